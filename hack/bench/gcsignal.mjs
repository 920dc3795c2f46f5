/**
 * Preloaded into the operator by memory.ts (`node --expose-gc --import`): SIGUSR2 runs a full garbage
 * collection, so a memory sample counts what the operator holds rather than what it has not collected
 * yet. Bench-only: the operator itself never exposes gc. JavaScript, not TypeScript: loading one .ts file
 * would start Node's type stripping in a compiled operator and count its memory.
 */
process.on('SIGUSR2', () => globalThis.gc?.());
