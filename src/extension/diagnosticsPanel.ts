/**
 * The diagnostics panel's host side: one webview panel that plots layer diagnostics or a hidden-state
 * comparison (the latest one shown). The page has the steering panel's strict CSP with a fresh nonce;
 * every message from it is checked (diagnosticsMessages.ts) and a bad one is logged and ignored.
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

export class DiagnosticsPanel {
  private static current: DiagnosticsPanel | undefined;
  private view: DiagnosticsView;
  private actions: DiagnosticsActions;

  /** Shows `view` in the panel (opened beside the editor when there is none). */
  static show(extensionUri: vscode.Uri, view: DiagnosticsView, actions: DiagnosticsActions): void {
    const open = DiagnosticsPanel.current;
    if (open) {
      open.view = view;
      open.actions = actions;
      open.panel.reveal(undefined, true);
      open.post({ type: 'show', view });
      return;
    }
    const panel = vscode.window.createWebviewPanel(DIAGNOSTICS_VIEW_TYPE, 'Micro Steer diagnostics', { viewColumn: vscode.ViewColumn.Beside, preserveFocus: true }, {
      enableScripts: true,
      localResourceRoots: [vscode.Uri.joinPath(extensionUri, 'dist'), vscode.Uri.joinPath(extensionUri, 'media')],
    });
    DiagnosticsPanel.current = new DiagnosticsPanel(panel, extensionUri, view, actions);
  }

  private constructor(
    private readonly panel: vscode.WebviewPanel,
    extensionUri: vscode.Uri,
    view: DiagnosticsView,
    actions: DiagnosticsActions,
  ) {
    this.view = view;
    this.actions = actions;
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
        if (DiagnosticsPanel.current === this) DiagnosticsPanel.current = undefined;
        subscriptions.forEach((s) => s.dispose());
      }),
    ];
  }

  private receive(raw: unknown): void {
    try {
      const message = parseDiagnosticsMessage(raw);
      if (message.type === 'ready') this.post({ type: 'show', view: this.view });
      else this.actions.trainAtLayer(message.layer);
    } catch (e) {
      this.actions.logWarning(`Diagnostics panel: ignored a message from the webview: ${(e as Error).message}`);
    }
  }

  private post(message: HostToDiagnosticsMessage): void {
    void this.panel.webview.postMessage(message);
  }
}
