/** Shared fixtures of the key envelope tests: a pinned envelope and where it belongs. */
import { tenantKeyBinding, type TenantKeyPlace } from '../binding.ts';
import { keyringOf, wrappingKeyRef, type Keyring } from '../envelope.ts';
import { CryptoError } from '../errors.ts';
import { FAKE_ROOT_KEY_V1, hex } from './fixtures.ts';

export const PLACE: TenantKeyPlace = {
  tenantUID: '0123456789ab',
  keyName: 'primary',
  keyUID: '00000000-0000-4000-8000-000000000001',
  version: 1,
};
export const BINDING = tenantKeyBinding(PLACE);
export const REF_V1 = wrappingKeyRef(1, FAKE_ROOT_KEY_V1);
export const KEYRING: Keyring = keyringOf(new Map([[1, FAKE_ROOT_KEY_V1]]));

/**
 * wrap(FAKE_DATA_KEY, FAKE_ROOT_KEY_V1, REF_V1, BINDING, countingRandom(0xa0)), computed once and
 * verified in envelope.test.ts by an independent decryption path.
 */
export const KAT_ENVELOPE = hex(`
  50414c4b 01 00000001 fbf1fa50e8605ca1
  a0a1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3b4b5b6b7
  05ad485ef318e2eb292667c23d7ded8f6bfbcd7ffe539c8e4519d1bcbbfea0696bd5dbf253192c63459bdfaf6fc0e4e8`);

/** The code of the CryptoError `fn` throws, or 'no error'. */
export function codeOf(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    if (e instanceof CryptoError) return e.code;
    throw e;
  }
  return 'no error';
}

/**
 * The code expected when byte `at` of a key envelope or data ciphertext is corrupted: the layout
 * (sealed.ts) decides which check trips first.
 */
export function sealedRegionCode(at: number): string {
  if (at < 4) return 'BadMagic';
  if (at === 4) return 'UnsupportedVersion';
  if (at < 17) return 'WrongKeyId'; // key version or key ID: no such key, or another key
  return 'AuthenticationFailed';
}
