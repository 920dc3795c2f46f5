/**
 * Trust on a pinned fingerprint, as `kubeadm join --discovery-token-ca-cert-hash` does: the agent knows
 * no CA yet, only the SHA-256 of the CA's SubjectPublicKeyInfo (`sha256:<64 hex>`), given to it beside
 * the pairing code. It opens one TLS connection without verification, takes the chain the server sends,
 * and accepts a CA only when its SPKI hashes to the pin AND it signed the server's certificate (so a
 * server that merely forwards the real CA certificate beside its own leaf is refused). From then on the
 * agent trusts exactly that CA: every later connection verifies normally against it alone.
 */
import { X509Certificate } from 'node:crypto';
import net from 'node:net';
import tls from 'node:tls';
import { isSpkiPin, spkiFingerprint } from '../controllers/agentchannel/identity.ts';

export class PinError extends Error {
  override name = 'PinError';
}

/** The pin, normalized (lowercase); throws a PinError naming the expected format. */
export function parsePin(pin: string): string {
  if (!isSpkiPin(pin.trim())) {
    throw new PinError('the CA fingerprint must be sha256:<64 hex digits> (of the CA public key)');
  }
  return pin.trim().toLowerCase();
}

/** `host:port` split, IPv6 in brackets allowed. */
export function splitAddress(address: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]+)):(\d{1,5})$/.exec(address);
  if (!m) throw new Error(`server address must be host:port, got "${address}"`);
  return { host: (m[1] ?? m[2]) as string, port: Number(m[3]) };
}

/** The certificates the server sent, leaf first (Node links them by `issuerCertificate`). */
function peerChain(socket: tls.TLSSocket): X509Certificate[] {
  const out: X509Certificate[] = [];
  const seen = new Set<string>();
  let c: tls.DetailedPeerCertificate | undefined = socket.getPeerCertificate(true);
  while (c?.raw && !seen.has(c.fingerprint256)) {
    seen.add(c.fingerprint256);
    out.push(new X509Certificate(c.raw));
    c = c.issuerCertificate;
  }
  return out;
}

/**
 * The CA certificate in `chain` (leaf first) whose SPKI matches `pin` and which issued and signed the
 * leaf, valid at `now`; otherwise a PinError saying what did not match.
 */
export function pinnedCa(chain: readonly X509Certificate[], pin: string, now: Date): X509Certificate {
  const want = parsePin(pin);
  const [leaf, ...rest] = chain;
  if (!leaf) throw new PinError('the server sent no certificate');
  const candidates = rest.filter((c) => spkiFingerprint(c) === want);
  if (candidates.length === 0) {
    throw new PinError(
      `no certificate the server sent has the pinned public key ${want} ` +
        `(it sent ${chain.length}: ${chain.map((c) => spkiFingerprint(c)).join(', ')})`,
    );
  }
  const ca = candidates.find((c) => c.ca && leaf.checkIssued(c) && leaf.verify(c.publicKey));
  if (!ca) throw new PinError(`the certificate with the pinned key is not a CA that signed the server's`);
  if (new Date(ca.validFrom) > now || new Date(ca.validTo) < now) {
    throw new PinError('the pinned CA certificate has expired or is not yet valid');
  }
  return ca;
}

/**
 * Connects to `address` once, unverified, and returns the pinned CA's PEM. `serverName` is sent as SNI
 * (a host name address is sent by default; never an IP, which TLS forbids).
 */
export async function fetchPinnedCa(
  address: string,
  pin: string,
  o: { serverName?: string; timeoutMs?: number; now?: Date } = {},
): Promise<string> {
  parsePin(pin);
  const { host, port } = splitAddress(address);
  const servername = o.serverName ?? (net.isIP(host) ? undefined : host);
  const chain = await new Promise<X509Certificate[]>((resolve, reject) => {
    // NB: unverified on purpose; nothing is sent on this connection and only the pin decides.
    const socket = tls.connect({
      host,
      port,
      ...(servername ? { servername } : {}),
      rejectUnauthorized: false,
      minVersion: 'TLSv1.2',
      ALPNProtocols: ['h2'],
    });
    socket.setTimeout(o.timeoutMs ?? 10_000, () =>
      socket.destroy(new Error(`TLS handshake with ${address} timed out`)),
    );
    socket.once('secureConnect', () => {
      const c = peerChain(socket);
      socket.destroy();
      resolve(c);
    });
    socket.once('error', reject);
  });
  return pinnedCa(chain, pin, o.now ?? new Date()).toString();
}
