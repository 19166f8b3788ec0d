/**
 * Messages shared by the engine, the extension and the webview. Each side validates what it receives:
 * these types describe well-formed messages, the validators in each receiver enforce them.
 */
export type { ModelSummary } from './engine/model/types';
