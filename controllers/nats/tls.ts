import type { ServerNames, TlsIssuer, TlsMaterial } from '../messaging/index.ts';
import { activeCA, bundleOf, listCAVersions, type CAVersion } from '../certificatebinding/internalca.ts';
import { issueLeaf, type RandomSource } from '../pki/index.ts';
import type { KubeClient } from '../runtime/kube/client.ts';

const LEAF_LIFETIME_MS = 365 * 24 * 3_600_000;
/** Backdated so a server whose clock is slightly behind still accepts its own certificate. */
const BACKDATE_MS = 3_600_000;

/**
 * The nats-server certificate from Palisade's internal CA (RSA-2048, like every inter-service
 * certificate): clients trust the same bundle as for every other internal endpoint (ConfigMap
 * `palisade-ca-bundle`). The CA exists before this runs: it is an earlier start-up task.
 */
export function internalCaIssuer(d: {
  client: KubeClient;
  namespace: string;
  rand: RandomSource;
}): TlsIssuer {
  return {
    issueServer: async (names, now) => serverTls(await listCAVersions(d), names, now, d.rand),
  };
}

/** A server certificate for `names` from the active CA of `versions`, with the bundle clients trust. */
export async function serverTls(
  versions: readonly CAVersion[],
  names: ServerNames,
  now: Date,
  rand: RandomSource,
): Promise<TlsMaterial> {
  const ca = activeCA(versions);
  if (!ca) throw new Error('the internal CA does not exist yet; the NATS server certificate waits for it');
  const leaf = await issueLeaf({
    ca: ca.pair,
    dnsNames: names.dnsNames,
    ipAddresses: names.ipAddresses,
    notBefore: new Date(now.getTime() - BACKDATE_MS),
    notAfter: new Date(Math.min(now.getTime() + LEAF_LIFETIME_MS, ca.cert.validToDate.getTime())),
    rand,
  });
  return { caPem: bundleOf(versions), certPem: leaf.certPem, keyPem: leaf.keyPem };
}
