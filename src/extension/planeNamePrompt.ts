/** Asking for a plane's name (train, rename, import): never empty, and an existing name only when the user confirms replacing it. */
import * as vscode from 'vscode';
import { planeNameProblem } from './planeRecords';

/** Whether `name` may be used: free, or taken and the user agrees to replace that plane. */
export async function confirmNameFree(name: string, taken: (name: string) => boolean): Promise<boolean> {
  if (!taken(name)) return true;
  const replace = 'Replace';
  const choice = await vscode.window.showWarningMessage(`A plane named "${name}" exists. Replace it?`, { modal: true }, replace);
  return choice === replace;
}

/** Asks for a name (starting from `value`); undefined when the user cancels. */
export async function askPlaneName(title: string, value: string, taken: (name: string) => boolean): Promise<string | undefined> {
  for (;;) {
    const name = await vscode.window.showInputBox({
      title,
      prompt: 'Name of the steering plane (stored in the workspace settings, microSteer.planes)',
      value,
      valueSelection: [0, value.length],
      validateInput: (input) => {
        const problem = planeNameProblem(input);
        if (problem) return problem;
        if (taken(input)) return { message: `A plane named "${input}" exists: Enter asks whether to replace it.`, severity: vscode.InputBoxValidationSeverity.Warning };
        return undefined;
      },
    });
    if (name === undefined) return undefined;
    if (await confirmNameFree(name, taken)) return name;
    value = name;
  }
}
