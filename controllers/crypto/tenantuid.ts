/**
 * Tenant UIDs: 12 lowercase hex characters from 48 random bits, as in the reference architecture,
 * so the identifier reveals nothing (no counter, no time, no name). Uniqueness is the caller's job
 * (the Tenant controller retries on a collision); at 48 bits a collision becomes likely only around
 * 2^24 ≈ 16 million tenants.
 */
import { takeRandom, toHex, type RandomSource } from './bytes.ts';

/** Number of random bytes in a tenant UID. */
export const TENANT_UID_BYTES = 6;

/** A fresh tenant UID: 6 bytes from `rand` as 12 lowercase hex chars. */
export function newTenantUID(rand: RandomSource): string {
  return toHex(takeRandom(rand, TENANT_UID_BYTES));
}

/** True for exactly 12 lowercase hex characters. */
export function isTenantUID(s: unknown): s is string {
  return typeof s === 'string' && /^[0-9a-f]{12}$/.test(s);
}
