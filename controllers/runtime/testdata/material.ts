/** Test fixtures for the redaction tests: obviously fake material, shaped like the real thing. */
export const USER_SEED = `SU${'A'.repeat(56)}`;
export const ACCOUNT_SEED = `SA${'B'.repeat(56)}`;
export const OPERATOR_SEED = `SO${'C'.repeat(56)}`;
export const ACCOUNT_PUBLIC_KEY = `A${'BCDEFGHIJKLMNOPQRSTUVWXYZ234567'.repeat(2).slice(0, 55)}`;
export const KEY_BASE64 = Buffer.from(Array.from({ length: 32 }, (_, i) => i)).toString('base64');
export const JWT = 'eyJhbGciOiJub25lIn0.eyJzdWIiOiJmYWtlIn0.ZmFrZS1zaWduYXR1cmU';
export const PEM =
  '-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIAABAgMEBQYHCAkKCwwNDg8Q\n-----END PRIVATE KEY-----\n';
export const CREDS = `-----BEGIN NATS USER JWT-----\n${JWT}\n------END NATS USER JWT------\n\n-----BEGIN USER NKEY SEED-----\n${USER_SEED}\n------END USER NKEY SEED------\n`;
/** The start of an encrypted private key, cut off mid-body (as in a truncated error message). */
export const PEM_FRAGMENT = '-----BEGIN ENCRYPTED PRIVATE KEY-----\nMIIFHDBOBgkqhkiG9w0BBQ0w';
