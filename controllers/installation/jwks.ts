/**
 * The JWKS document of the JWT signing keys, from their Secrets and the schedule (jwtschedule.ts): the
 * current key first, then the next ones, then the previous ones still inside their overlap. The same
 * function feeds the ConfigMap `palisade-jwks` (written by the leader) and the key service's GetJwks
 * (every replica, from its cache), so both publish the same keys.
 */
import type { JsonWebKey } from 'node:crypto';
import type { Secret } from '../runtime/kube/types.ts';
import { publicJwk } from './jwk.ts';
import { ACTIVATE_AT_ANNOTATION, signingSchedule, type SigningSchedule } from './jwtschedule.ts';
import { KEY_ID_ANNOTATION, secretBytes, versionOf } from './secrets.ts';

export interface SigningKey {
  version: number;
  kid: string;
  activateAt: number;
  /** PKCS#8 DER of the Ed25519 private key. */
  privateDer: Uint8Array;
}

export interface Jwks {
  keys: JsonWebKey[];
}

export function signingKeyOf(s: Secret): SigningKey {
  return {
    version: versionOf(s),
    kid: s.metadata.annotations?.[KEY_ID_ANNOTATION] ?? '',
    activateAt: Date.parse(s.metadata.annotations?.[ACTIVATE_AT_ANNOTATION] ?? '') || 0,
    privateDer: secretBytes(s, 'private.der'),
  };
}

/** The published keys of a schedule, current first. */
export function jwksOf(schedule: SigningSchedule<SigningKey>): Jwks {
  const published = [...(schedule.current ? [schedule.current] : []), ...schedule.next, ...schedule.previous];
  return {
    keys: published.map((k) => ({ ...publicJwk(k.privateDer), use: 'sig', alg: 'EdDSA', kid: k.kid })),
  };
}

/** The schedule of the JWT signing key Secrets at `now`. */
export function scheduleOf(secrets: readonly Secret[], now: number): SigningSchedule<SigningKey> {
  return signingSchedule(secrets.filter((s) => versionOf(s) > 0).map(signingKeyOf), now);
}
