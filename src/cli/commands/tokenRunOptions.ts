/** The flags of `forward` and `grad`: a token sequence, optionally a plane, and the device. */
export const TOKEN_RUN_OPTIONS = {
  model: { type: 'string' },
  ids: { type: 'string' },
  plane: { type: 'string' },
  alpha: { type: 'string' },
  positions: { type: 'string' },
  device: { type: 'string' },
  json: { type: 'boolean' },
} as const;
