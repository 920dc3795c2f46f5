/**
 * What a kind may not take from the process itself, so tests can drive it: the time and randomness.
 * `rand(n)` returns n cryptographically random bytes (node:crypto in the operator).
 */
export interface Env {
  now(): Date;
  rand: (n: number) => Uint8Array;
}
