/**
 * The environment of a process that runs the model (the engine, and the bench's measuring children).
 *
 * onnxruntime's sessions run without a memory arena, so every run allocates and frees its activations
 * through malloc. glibc raises its mmap threshold each time a large mmapped block is freed (up to 32
 * MB), after which activations of a few MB come from its heaps and stay there, fragmented, once freed:
 * on the 2B shape at int4 a 128-token prefill left 0.3-0.4 GB more resident than with the variable
 * below. Setting glibc's trim threshold turns that adjustment off (large blocks keep going to mmap and
 * back to the system when freed) and gives the heaps' free tops back early. Measured in
 * docs/DESIGN.md; other C libraries ignore the variable. A value the user set is kept.
 */
export const MALLOC_TRIM_THRESHOLD = String(1 << 20);

export function modelProcessEnv(env: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  return { ...env, MALLOC_TRIM_THRESHOLD_: env.MALLOC_TRIM_THRESHOLD_ ?? MALLOC_TRIM_THRESHOLD };
}
