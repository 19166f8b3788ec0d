/** What the status bar item says: the extension's name, active plane, alpha, inline completions, engine state. No vscode import: unit-tested. */

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
  /** The weights format once the model runs, else the configured setting. */
  weights: string;
  state: EngineState;
  /** Steered inline completions are on. */
  inline: boolean;
  /** The model folder's name (the open one, else the configured one); undefined when none is set. */
  model: string | undefined;
}

/** Work the user may be waiting for; a stopped or idle engine is the normal state, not a warning. */
const BUSY: readonly EngineState[] = ['loading', 'training', 'generating', 'analysing'];

export function statusText(s: SteeringStatus): string {
  const icon = BUSY.includes(s.state) ? '$(loading~spin)' : s.planeProblem ? '$(warning)' : '$(sparkle)';
  const parts = [`${icon} Micro Steer`];
  if (s.model === undefined) parts.push('no model');
  else if (s.plane === undefined) parts.push('no plane yet');
  else parts.push(`${s.plane} · α ${formatAlpha(s.alpha)}`);
  if (s.inline) parts.push('$(lightbulb) inline');
  if (BUSY.includes(s.state)) parts.push(s.state);
  return parts.join(' · ');
}

export function statusTooltip(s: SteeringStatus): string {
  const model = s.model ?? 'none (run "Micro Steer: Select model folder")';
  const plane = s.plane === undefined ? 'none (train one from a selection)' : s.planeProblem ? `${s.plane}: ${s.planeProblem}` : s.plane;
  return [
    'Micro Steer',
    `Model: ${model}`,
    `Plane: ${plane}`,
    `Alpha: ${formatAlpha(s.alpha)}`,
    `Inline completions: ${s.inline ? 'on' : 'off'}`,
    `Device: ${s.device}`,
    `Weights: ${s.weights}`,
    `Engine: ${s.state}`,
    '',
    'Click to select a steering plane',
  ].join('\n');
}

/** Alphas as people write them: 2 -> "2.0", 2.25 -> "2.25", -0.5 -> "-0.5". */
export function formatAlpha(alpha: number): string {
  return Number.isInteger(alpha) ? alpha.toFixed(1) : String(Number(alpha.toPrecision(4)));
}
