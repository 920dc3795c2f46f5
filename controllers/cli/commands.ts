import { randomBytes } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import os from 'node:os';
import { backupInstallation, restoreInstallation } from '../installation/backup.ts';
import { observeInstallation } from '../installation/observe.ts';
import { rotateHashSalt, rotateJwtSigningKey, rotateRootKey } from '../installation/rotation.ts';
import { parseDuration } from '../../crds/v1alpha1/duration.ts';
import { assessInstallation } from '../installation/verdict.ts';
import { KubeClient, loadKubeConfig } from '../runtime/kube/client.ts';
import { createAuditLog, type AuditLog } from '../runtime/log.ts';
import { CA_BUNDLE_CONFIGMAP } from '../internalca/ca.ts';
import { KeyServiceClient } from '../keyservice/client.ts';
import { KEYSERVICE_SERVICE } from '../keyservice/setup.ts';
import type { ConfigMap } from '../runtime/kube/types.ts';

/** What every command gets: parsed flags and the streams it may use (tests pass their own). */
export interface CommandContext {
  flags: Record<string, string | boolean | undefined>;
  stdin: () => Promise<Uint8Array>;
  stdout: (b: Uint8Array | string) => void;
  stderr: (s: string) => void;
  audit?: AuditLog;
}

const rand = (n: number) => new Uint8Array(randomBytes(n));
const FIELD_MANAGER = 'palisade-cli';

function str(c: CommandContext, name: string, fallback?: string): string {
  const v = c.flags[name];
  if (typeof v === 'string' && v !== '') return v;
  if (fallback !== undefined) return fallback;
  throw new Error(`--${name} is required`);
}

function client(c: CommandContext): KubeClient {
  const path = c.flags.kubeconfig;
  return new KubeClient(loadKubeConfig(typeof path === 'string' ? path : undefined), FIELD_MANAGER);
}

function audit(c: CommandContext): AuditLog {
  return c.audit ?? createAuditLog({ stream: process.stderr, actor: `cli:${os.userInfo().username}` });
}

/** The passphrase file's content without its trailing newline (what `echo x > file` adds). */
async function passphrase(c: CommandContext): Promise<string> {
  const text = await readFile(str(c, 'passphrase-file'), 'utf8');
  const p = text.replace(/\r?\n$/, '');
  if (p.length < 12) throw new Error('the passphrase must be at least 12 characters');
  return p;
}

const operatorNamespace = (c: CommandContext) => str(c, 'namespace', 'palisade-system');

export async function rootKeyRotate(c: CommandContext): Promise<void> {
  const r = await rotateRootKey({
    client: client(c),
    namespace: operatorNamespace(c),
    rand,
    audit: audit(c),
  });
  c.stdout(
    `created root key version ${r.version} (key ID ${r.keyId}); the operator now rewraps everything ` +
      `wrapped by version ${r.previous} and retires it when nothing references it.\n` +
      'Take a new backup (palisade backup): older backups do not hold the new version.\n',
  );
}

export async function jwtSigningKeyRotate(c: CommandContext): Promise<void> {
  const after = c.flags['activate-after'];
  const r = await rotateJwtSigningKey({
    client: client(c),
    namespace: operatorNamespace(c),
    audit: audit(c),
    ...(typeof after === 'string' ? { activateAfterMs: parseDuration(after) } : {}),
  });
  c.stdout(
    `created JWT signing key version ${r.version} (kid ${r.kid}): published in the JWKS now, signing from ` +
      `${r.activateAt}; the key it supersedes stays published while tokens it signed may be alive.\n` +
      'Take a new backup (palisade backup): older backups do not hold the new version.\n',
  );
}

export async function hashSaltRotate(c: CommandContext): Promise<void> {
  const r = await rotateHashSalt({
    client: client(c),
    namespace: operatorNamespace(c),
    audit: audit(c),
    rand,
    overlapMs: parseDuration(str(c, 'overlap', '720h')),
  });
  c.stdout(
    `created hash salt version ${r.version}: new blind indexes and password hashes use it now; the ` +
      `previous version's blind indexes are returned beside the new ones until ${r.previousUntil}, and ` +
      'password hashes made with older versions verify and report needs-rehash.\n' +
      'Take a new backup (palisade backup): older backups do not hold the new version.\n',
  );
}

export async function backup(c: CommandContext): Promise<void> {
  const namespace = operatorNamespace(c);
  const out = str(c, 'out');
  const r = await backupInstallation({
    client: client(c),
    namespace,
    passphrase: await passphrase(c),
    rand,
    now: new Date(),
  });
  await writeFile(out, r.blob, { mode: 0o600 });
  audit(c).record({
    action: 'installation.backup',
    outcome: 'Success',
    resource: { kind: 'Namespace', name: namespace },
    reason: `${r.names.length} Secrets${r.installationID ? `, installation ${r.installationID}` : ''}`,
  });
  c.stdout(
    `backed up ${r.names.length} Secrets from ${namespace} to ${out}: ${r.names.join(', ')}\n` +
      (r.installationID
        ? `and the installation record (installation ${r.installationID})\n`
        : 'no installation record yet (the operator makes one at its next start)\n') +
      (r.derived.length ? `left out, made again by the operator: ${r.derived.join(', ')}\n` : ''),
  );
}

export async function restore(c: CommandContext): Promise<void> {
  const blob = new Uint8Array(await readFile(str(c, 'in')));
  const ns = c.flags.namespace;
  const kube = client(c);
  const r = await restoreInstallation({
    client: kube,
    blob,
    passphrase: await passphrase(c),
    ...(typeof ns === 'string' ? { namespace: ns } : {}),
  });
  audit(c).record({
    action: 'installation.restore',
    outcome: 'Success',
    resource: { kind: 'Namespace', name: r.namespace },
    reason: `${r.mode}; created ${r.created.length}, already present ${r.present.length}, skipped ${r.skipped.length}`,
  });
  const verdict = assessInstallation(
    (await observeInstallation({ client: kube, namespace: r.namespace })).observed,
  );
  c.stdout(
    `restored into ${r.namespace}: created ${r.created.join(', ') || 'nothing'}` +
      (r.present.length ? `; already present (identical): ${r.present.join(', ')}` : '') +
      '\n' +
      (r.mode === 'repair'
        ? `repaired installation ${r.installationID ?? ''}: only missing installation keys were created; ` +
          `the keystore was left as it is (not restored: ${r.skipped.length} Secrets)\n`
        : r.mode === 'resume'
          ? `finished an earlier restore of installation ${r.installationID ?? ''} that had stopped part-way\n`
          : r.recordCreated
            ? `installation record restored (installation ${r.installationID ?? ''})\n`
            : '') +
      (verdict.kind === 'lost'
        ? `still missing, the operator keeps waiting: ${verdict.problems.map((p) => p.message).join('; ')}\n`
        : 'the installation keys are complete: the operator proceeds (no restart needed)\n'),
  );
}

const KEYSERVICE_PORT = 8443;

/**
 * A key service client for `data` commands: the server from --server (default the chart's Service), the
 * CA bundle from --ca-file or the operator namespace's ConfigMap (read with the kubeconfig), and the
 * caller's credentials: a ServiceAccount token file or an internal-CA client certificate. The CLI never
 * reads a key: the key service does the work, under a KeyAccessPolicy that names the caller.
 */
async function keyService(c: CommandContext): Promise<KeyServiceClient> {
  const operatorNs = str(c, 'operator-namespace', 'palisade-system');
  const address = str(
    c,
    'server',
    process.env.PALISADE_KEYSERVICE || `${KEYSERVICE_SERVICE}.${operatorNs}.svc:${KEYSERVICE_PORT}`,
  );
  const caFile = c.flags['ca-file'];
  let caPem: string;
  if (typeof caFile === 'string') caPem = await readFile(caFile, 'utf8');
  else {
    const cm = await client(c).get<ConfigMap>({
      kind: 'ConfigMap',
      name: CA_BUNDLE_CONFIGMAP,
      namespace: operatorNs,
    });
    caPem = cm?.data?.['ca.crt'] ?? '';
    if (!caPem)
      throw new Error(
        `no CA bundle: ConfigMap ${operatorNs}/${CA_BUNDLE_CONFIGMAP} not found (or give --ca-file)`,
      );
  }
  const tokenFile = c.flags['token-file'];
  const cert = c.flags.cert;
  const certKey = c.flags['cert-key'];
  if (typeof tokenFile !== 'string' && (typeof cert !== 'string' || typeof certKey !== 'string'))
    throw new Error(
      'give --token-file (a ServiceAccount token, audience palisade-keyservice) or --cert and --cert-key',
    );
  return new KeyServiceClient({
    address,
    caPem,
    ...(typeof tokenFile === 'string' ? { token: () => readFile(tokenFile, 'utf8') } : {}),
    ...(typeof cert === 'string' && typeof certKey === 'string'
      ? { clientCert: { certPem: await readFile(cert, 'utf8'), keyPem: await readFile(certKey, 'utf8') } }
      : {}),
    ...(typeof c.flags['server-name'] === 'string' ? { serverName: c.flags['server-name'] } : {}),
  });
}

const keyName = (c: CommandContext) => ({ tenant: str(c, 'tenant'), key: str(c, 'key', 'primary') });
const context = (c: CommandContext) =>
  typeof c.flags.context === 'string' ? new TextEncoder().encode(c.flags.context) : undefined;

export async function dataEncrypt(c: CommandContext): Promise<void> {
  const ks = await keyService(c);
  try {
    const { ciphertext } = await ks.encrypt(keyName(c), await c.stdin(), context(c));
    c.stdout(c.flags.base64 ? `${Buffer.from(ciphertext).toString('base64')}\n` : ciphertext);
  } finally {
    ks.close();
  }
}

export async function dataDecrypt(c: CommandContext): Promise<void> {
  const ks = await keyService(c);
  try {
    const input = await c.stdin();
    const bytes = c.flags.base64
      ? new Uint8Array(Buffer.from(new TextDecoder().decode(input).trim(), 'base64'))
      : input;
    c.stdout((await ks.decrypt(keyName(c), bytes, context(c))).plaintext);
  } finally {
    ks.close();
  }
}
