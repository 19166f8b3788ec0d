/** The flags of `forward` and `grad`: a token sequence, optionally a plane, the device and the weights format. */
export const TOKEN_RUN_OPTIONS = {
  model: { type: 'string' },
  ids: { type: 'string' },
  plane: { type: 'string' },
  alpha: { type: 'string' },
  positions: { type: 'string' },
  device: { type: 'string' },
  weights: { type: 'string' },
  json: { type: 'boolean' },
} as const;
