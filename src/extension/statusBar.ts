/** The status bar item: the extension's name, active plane, alpha, inline completions and engine state (model and device in the tooltip); a click selects the plane. */
import * as vscode from 'vscode';
import type { Services } from './services';
import { configuredAlpha, configuredWeights, inlineSettings, SECTION } from './settings';
import { statusText, statusTooltip, type SteeringStatus } from './statusText';

export class StatusBar implements vscode.Disposable {
  private readonly item = vscode.window.createStatusBarItem('microSteer.status', vscode.StatusBarAlignment.Right, 100);
  private readonly subscriptions: vscode.Disposable[];

  constructor(private readonly services: Services) {
    this.item.name = 'Micro Steer';
    this.item.command = 'microSteer.selectPlane';
    this.subscriptions = [
      this.item,
      services.engine.onDidChange(() => this.update()),
      services.planes.onDidChange(() => this.update()),
      vscode.workspace.onDidChangeConfiguration(
        (e) => (e.affectsConfiguration(`${SECTION}.alpha`) || e.affectsConfiguration(`${SECTION}.inlineCompletions.enabled`)) && this.update(),
      ),
    ];
    this.update();
    this.item.show();
  }

  /** What the item shows now (also for tests). */
  status(): SteeringStatus {
    const active = this.services.planes.active();
    const { engine } = this.services;
    return {
      plane: active?.name,
      planeProblem: active?.problem,
      alpha: configuredAlpha(),
      device: engine.device,
      weights: engine.weightsFormat ?? configuredWeights(),
      state: engine.state,
      inline: inlineSettings().enabled,
      model: engine.modelName,
    };
  }

  private update(): void {
    const status = this.status();
    this.item.text = statusText(status);
    this.item.tooltip = statusTooltip(status);
  }

  dispose(): void {
    for (const s of this.subscriptions) s.dispose();
  }
}
