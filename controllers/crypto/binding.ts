/**
 * Bindings: the associated data that ties a wrapped secret to its place.
 *
 * A binding is a purpose label plus named string fields. It is never stored in the envelope: the
 * unwrapping side rebuilds it from where it found the envelope (the Secret's owner, the TenantKey's
 * name, UID and version...), so an envelope copied anywhere else fails authentication.
 *
 * Canonical encoding (`encodeBinding`), all lengths unsigned big-endian:
 *
 *   u8 19 || "palisade-binding-v1"                      domain label
 *   u8 len || purpose                                    ASCII, /^[a-z0-9][a-z0-9.-]{0,63}$/
 *   u8 count                                             0..32 fields
 *   count × ( u8 len || name || u16 len || value )       name ASCII /^[A-Za-z][A-Za-z0-9_.-]{0,63}$/,
 *                                                        value UTF-8, ≤ 1024 bytes
 *
 * Fields are sorted by name (names are ASCII, so code-unit order is byte order) and names are unique,
 * so every binding has exactly one encoding; every variable-length item is length-prefixed, so no two
 * different bindings share an encoding. Values must be well-formed Unicode: a lone surrogate would be
 * replaced by U+FFFD when encoded, making two different strings collide, so it is refused.
 */
import { concat, isWellFormed, u16be, utf8 } from './bytes.ts';
import { EnvelopeError } from './errors.ts';
import { isTenantUID } from './tenantuid.ts';

export type Binding = {
  /** What the secret is for; each purpose binds its own fields. See `BindingPurpose`. */
  readonly purpose: string;
  readonly fields: Readonly<Record<string, string>>;
};

/** Purposes used by Palisade. Other code may define its own label matching the purpose pattern. */
export const BindingPurpose = {
  /** A TenantKey data key version wrapped by the root key; fields from `tenantKeyBinding`. */
  TenantKey: 'tenant-key',
  /** A tenant's NATS account seed wrapped by the root key. */
  NatsAccountSeed: 'nats-account-seed',
} as const;

/** Where a tenant data key version lives. */
export type TenantKeyPlace = {
  /** The Tenant's 12-hex-char UID (see tenantuid.ts). */
  readonly tenantUID: string;
  /** The TenantKey's metadata.name. */
  readonly keyName: string;
  /** The TenantKey's metadata.uid: a recreated TenantKey of the same name does not match. */
  readonly keyUID: string;
  /** The data key version, an integer ≥ 1. */
  readonly version: number;
};

const LABEL = utf8('palisade-binding-v1');
const PURPOSE = /^[a-z0-9][a-z0-9.-]{0,63}$/;
const NAME = /^[A-Za-z][A-Za-z0-9_.-]{0,63}$/;
const MAX_FIELDS = 32;
const MAX_VALUE_BYTES = 1024;

/** Builds a binding after checking it can be encoded; throws EnvelopeError('BadBinding') if not. */
export function binding(purpose: string, fields: Readonly<Record<string, string>>): Binding {
  const b: Binding = { purpose, fields: { ...fields } };
  encodeBinding(b);
  return b;
}

/** The binding of a TenantKey data key version. */
export function tenantKeyBinding(place: TenantKeyPlace): Binding {
  const { tenantUID, keyName, keyUID, version } = place;
  if (!isTenantUID(tenantUID)) bad('tenantUID must be 12 lowercase hex characters');
  if (keyName === '') bad("field 'keyName' must not be empty");
  if (keyUID === '') bad("field 'keyUID' must not be empty");
  if (!Number.isSafeInteger(version) || version < 1) bad("field 'version' must be an integer ≥ 1");
  return binding(BindingPurpose.TenantKey, { tenantUID, keyName, keyUID, version: String(version) });
}

/** The canonical byte encoding described above. */
export function encodeBinding(b: Binding): Uint8Array {
  if (typeof b.purpose !== 'string' || !PURPOSE.test(b.purpose)) {
    bad(`purpose must match ${PURPOSE.source}`);
  }
  const names = Object.keys(b.fields).sort();
  if (names.length > MAX_FIELDS) bad(`at most ${MAX_FIELDS} fields, got ${names.length}`);
  const parts = [Uint8Array.of(LABEL.length), LABEL, Uint8Array.of(b.purpose.length), utf8(b.purpose)];
  parts.push(Uint8Array.of(names.length));
  for (const name of names) parts.push(encodeField(name, b.fields[name]));
  return concat(...parts);
}

function encodeField(name: string, value: string | undefined): Uint8Array {
  if (!NAME.test(name)) bad(`field name must match ${NAME.source}`);
  if (typeof value !== 'string') bad(`field '${name}' must be a string`);
  if (!isWellFormed(value)) bad(`field '${name}' contains a lone UTF-16 surrogate`);
  const v = utf8(value);
  if (v.length > MAX_VALUE_BYTES) bad(`field '${name}' is ${v.length} bytes, at most ${MAX_VALUE_BYTES}`);
  return concat(Uint8Array.of(name.length), utf8(name), u16be(v.length), v);
}

function bad(message: string): never {
  throw new EnvelopeError('BadBinding', `invalid binding: ${message}`);
}
