/** What the status bar item says: active plane, alpha, device and engine state. No vscode import: unit-tested. */

/** The engine as the extension sees it: `stopped` means no engine process runs (none started yet, or it exited). */
export type EngineState = 'stopped' | 'loading' | 'idle' | 'training' | 'generating' | 'analysing';

export interface SteeringStatus {
  /** The active plane's name, if one is set. */
  plane: string | undefined;
  /** Why the active plane cannot be used (missing, malformed), if it cannot. */
  planeProblem: string | undefined;
  alpha: number;
  /** The engine's device once it runs, else the configured one. */
  device: string;
  state: EngineState;
}

const STATE_ICONS: Record<EngineState, string> = {
  stopped: '$(circle-slash)',
  loading: '$(loading~spin)',
  idle: '$(pulse)',
  training: '$(loading~spin)',
  generating: '$(loading~spin)',
  analysing: '$(loading~spin)',
};

export function statusText(s: SteeringStatus): string {
  const plane = s.plane === undefined ? 'no plane' : s.planeProblem ? `${s.plane} $(warning)` : s.plane;
  return `${STATE_ICONS[s.state]} ${plane} · α ${formatAlpha(s.alpha)} · ${s.device} · ${s.state}`;
}

export function statusTooltip(s: SteeringStatus): string {
  const plane = s.plane === undefined ? 'none (train one from a selection)' : s.planeProblem ? `${s.plane}: ${s.planeProblem}` : s.plane;
  return [`Micro Steer`, `Plane: ${plane}`, `Alpha: ${formatAlpha(s.alpha)}`, `Device: ${s.device}`, `Engine: ${s.state}`, '', 'Click to select a steering plane'].join(
    '\n',
  );
}

/** Alphas as people write them: 2 -> "2.0", 2.25 -> "2.25", -0.5 -> "-0.5". */
export function formatAlpha(alpha: number): string {
  return Number.isInteger(alpha) ? alpha.toFixed(1) : String(Number(alpha.toPrecision(4)));
}
