/**
 * Which model folder to load, given where `microSteer.modelPath` is set. In an untrusted workspace a
 * folder that only the workspace settings name is not loaded: opening a repository must not make the
 * extension read (and compile graphs next to) whatever folder its settings point at. No vscode import: unit-tested.
 */

/** The parts of WorkspaceConfiguration.inspect() that decide the value. */
export interface SettingLayers<T> {
  defaultValue?: T;
  globalValue?: T;
  workspaceValue?: T;
  workspaceFolderValue?: T;
}

export type ModelPathChoice =
  | { path: string }
  /** No usable folder; `reason` says what the user can do. */
  | { path: undefined; reason: string };

export function chooseModelPath(layers: SettingLayers<string> | undefined, trusted: boolean): ModelPathChoice {
  const set = (v: string | undefined): string | undefined => (v && v.trim() !== '' ? v : undefined);
  const user = set(layers?.globalValue);
  const workspace = set(layers?.workspaceFolderValue) ?? set(layers?.workspaceValue);
  if (workspace && trusted) return { path: workspace };
  if (user) return { path: user };
  if (workspace) {
    return {
      path: undefined,
      reason:
        `this workspace is not trusted, so the model folder its settings name (${workspace}) is not loaded: ` +
        'trust the workspace, or set microSteer.modelPath in your user settings',
    };
  }
  const fallback = set(layers?.defaultValue);
  if (fallback) return { path: fallback };
  return { path: undefined, reason: 'no model folder is set: run "Micro Steer: Select model folder" first' };
}
