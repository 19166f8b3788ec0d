/**
 * The diagnostics panels' host side: one webview panel for layer diagnostics and one for hidden-state
 * comparisons (each shows its latest result), so that one never replaces the other. The page has the
 * steering panel's strict CSP with a fresh nonce; every message from it is checked (diagnosticsMessages.ts)
 * and a bad one is logged and ignored. After a window reload VS Code restores the panels (the serializer)
 * and the page draws the result it saved; its train button needs the examples, which are not saved.
 */
import { randomBytes } from 'node:crypto';
import * as vscode from 'vscode';
import { diagnosticsHtml } from '../../webview/diagnosticsHtml';
import type { DiagnosticsView, HostToDiagnosticsMessage } from '../protocol';
import { parseDiagnosticsMessage } from './diagnosticsMessages';

export const DIAGNOSTICS_VIEW_TYPE = 'microSteer.diagnostics';

export interface DiagnosticsActions {
  /** The train button: a plane at `layer` on the diagnosed set B. */
  trainAtLayer(layer: number): void;
  logWarning(message: string): void;
}

const TITLES: Record<DiagnosticsView['kind'], string> = { layers: 'Micro Steer: layer diagnostics', states: 'Micro Steer: hidden states' };

export class DiagnosticsPanel {
  private static readonly open = new Map<DiagnosticsView['kind'], DiagnosticsPanel>();
  private view: DiagnosticsView | undefined;
  private actions: DiagnosticsActions | undefined;

  /** Shows `view` in the panel of its kind (opened beside the editor when there is none). */
  static show(extensionUri: vscode.Uri, view: DiagnosticsView, actions: DiagnosticsActions): void {
    const open = DiagnosticsPanel.open.get(view.kind);
    if (open) {
      open.view = view;
      open.actions = actions;
      open.panel.reveal(undefined, true);
      open.post({ type: 'show', view });
      return;
    }
    const panel = vscode.window.createWebviewPanel(
      DIAGNOSTICS_VIEW_TYPE,
      TITLES[view.kind],
      { viewColumn: vscode.ViewColumn.Beside, preserveFocus: true },
      webviewOptions(extensionUri),
    );
    new DiagnosticsPanel(panel, extensionUri, view.kind, view, actions);
  }

  /** Restores the panels VS Code kept across a reload; register at activation (`onWebviewPanel:microSteer.diagnostics`). */
  static registerSerializer(extensionUri: vscode.Uri, logWarning: (message: string) => void): vscode.Disposable {
    return vscode.window.registerWebviewPanelSerializer(DIAGNOSTICS_VIEW_TYPE, {
      deserializeWebviewPanel: async (panel: vscode.WebviewPanel) => {
        panel.webview.options = webviewOptions(extensionUri);
        // The title says which kind it was; the next result of that kind goes into it.
        const kind = (Object.keys(TITLES) as DiagnosticsView['kind'][]).find((k) => TITLES[k] === panel.title);
        new DiagnosticsPanel(panel, extensionUri, kind, undefined, { trainAtLayer: () => undefined, logWarning });
      },
    });
  }

  private constructor(
    private readonly panel: vscode.WebviewPanel,
    extensionUri: vscode.Uri,
    kind: DiagnosticsView['kind'] | undefined,
    view: DiagnosticsView | undefined,
    actions: DiagnosticsActions,
  ) {
    this.view = view;
    this.actions = actions;
    if (kind) DiagnosticsPanel.open.get(kind)?.panel.dispose();
    if (kind) DiagnosticsPanel.open.set(kind, this);
    panel.iconPath = vscode.Uri.joinPath(extensionUri, 'media', 'steer.svg');
    const webview = panel.webview;
    webview.html = diagnosticsHtml({
      cspSource: webview.cspSource,
      nonce: randomBytes(16).toString('base64'),
      scriptUri: webview.asWebviewUri(vscode.Uri.joinPath(extensionUri, 'dist', 'diagnostics.js')).toString(),
      styleUri: webview.asWebviewUri(vscode.Uri.joinPath(extensionUri, 'media', 'panel.css')).toString(),
    });
    const subscriptions = [
      webview.onDidReceiveMessage((raw: unknown) => this.receive(raw)),
      panel.onDidDispose(() => {
        for (const [kind, open] of DiagnosticsPanel.open) if (open === this) DiagnosticsPanel.open.delete(kind);
        subscriptions.forEach((s) => s.dispose());
      }),
    ];
  }

  private receive(raw: unknown): void {
    try {
      const message = parseDiagnosticsMessage(raw);
      // A restored page draws the result it saved; it has nothing newer from this host.
      if (message.type === 'ready') {
        if (this.view) this.post({ type: 'show', view: this.view });
      } else this.actions?.trainAtLayer(message.layer);
    } catch (e) {
      this.actions?.logWarning(`Diagnostics panel: ignored a message from the webview: ${(e as Error).message}`);
    }
  }

  private post(message: HostToDiagnosticsMessage): void {
    void this.panel.webview.postMessage(message);
  }
}

function webviewOptions(extensionUri: vscode.Uri): vscode.WebviewPanelOptions & vscode.WebviewOptions {
  return { enableScripts: true, localResourceRoots: [vscode.Uri.joinPath(extensionUri, 'dist'), vscode.Uri.joinPath(extensionUri, 'media')] };
}
