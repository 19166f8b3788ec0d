/** The CLI's command table: one module per command under ./commands/. */
import type { Command } from './command';

export const commands: Command[] = [];
