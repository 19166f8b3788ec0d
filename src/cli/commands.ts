/** The CLI's command table: one module per command under ./commands/. */
import type { Command } from './command';
import { compareCommand } from './commands/compare';
import { forwardCommand } from './commands/forward';
import { generateCommand } from './commands/generate';
import { gradCommand } from './commands/grad';
import { infoCommand } from './commands/info';
import { tinyModelCommand } from './commands/tinyModel';
import { trainCommand } from './commands/train';

export const commands: Command[] = [infoCommand, tinyModelCommand, forwardCommand, gradCommand, trainCommand, generateCommand, compareCommand];
