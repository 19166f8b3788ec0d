/** The CLI's command table: one module per command under ./commands/. */
import type { Command } from './command';
import { forwardCommand } from './commands/forward';
import { gradCommand } from './commands/grad';
import { infoCommand } from './commands/info';
import { tinyModelCommand } from './commands/tinyModel';

export const commands: Command[] = [infoCommand, tinyModelCommand, forwardCommand, gradCommand];
