/** Context keys for the manifest's `when` clauses: plane and vector commands hide while there is nothing to act on. */
import * as vscode from 'vscode';
import type { PlaneStore } from './planeStore';
import type { VectorStore } from './vectorStore';

export function trackContextKeys(planes: PlaneStore, vectors: VectorStore): vscode.Disposable {
  const update = (): void => {
    void vscode.commands.executeCommand('setContext', 'microSteer.hasPlanes', planes.table().planes.size > 0);
    void vscode.commands.executeCommand('setContext', 'microSteer.hasVectors', vectors.table().vectors.size > 0);
  };
  update();
  return vscode.Disposable.from(planes.onDidChange(update), vectors.onDidChange(update));
}
