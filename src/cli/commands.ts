/** The CLI's command table: one module per command under ./commands/. */
import type { Command } from './command';
import { ablateCommand } from './commands/ablate';
import { compareCommand } from './commands/compare';
import { compareStatesCommand } from './commands/compareStates';
import { evalCommand } from './commands/eval';
import { forwardCommand } from './commands/forward';
import { generateCommand } from './commands/generate';
import { gradCommand } from './commands/grad';
import { infoCommand } from './commands/info';
import { layersCommand } from './commands/layers';
import { meandiffCommand } from './commands/meandiff';
import { pretrainCommand } from './commands/pretrain';
import { tinyModelCommand } from './commands/tinyModel';
import { trainCommand } from './commands/train';

export const commands: Command[] = [infoCommand, tinyModelCommand, forwardCommand, gradCommand, trainCommand, generateCommand, compareCommand, meandiffCommand, ablateCommand, layersCommand, compareStatesCommand, pretrainCommand, evalCommand];
