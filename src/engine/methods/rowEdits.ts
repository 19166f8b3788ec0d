/** The residual-stream edits of one generation row: its vector steering and its ablation, if any. */
import type { ResidualEdits } from '../gemma2/residualEdits';
import type { ModelFolder } from '../model/types';
import type { GenerationRow } from '../../protocol';
import { ablationEdits } from './ablation';
import { vectorEdits } from './meanDifference';

export function rowEdits(row: Pick<GenerationRow, 'vector' | 'ablate'>, folder: ModelFolder, what: string): ResidualEdits | null {
  const add = row.vector === undefined ? [] : vectorEdits(row.vector, folder, `${what} vector`);
  const ablate = row.ablate === undefined ? [] : ablationEdits(row.ablate, folder, `${what} ablation`);
  return add.length + ablate.length === 0 ? null : { add, ablate };
}
