/** How every harness script ends: the process exits with `main`'s code, or 1 with its error's message. */
export function exitWith(label: string, main: () => Promise<number>): void {
  main().then(
    (code) => process.exit(code),
    (e: unknown) => {
      console.error(`[${label}] ${(e as Error).message}`);
      process.exit(1);
    },
  );
}
