/** What the commands, the status bar and the inline provider share: the window's engine and plane store. */
import type { EngineHost } from './engineHost';
import type { PlaneStore } from './planeStore';
import type { VectorStore } from './vectorStore';

export interface Services {
  engine: EngineHost;
  planes: PlaneStore;
  vectors: VectorStore;
  /** Opens the steering panel, when the build has one. */
  openPanel: (() => void) | undefined;
}
