// Credentials of a local control plane: service-account signing keys, the admin token, a client CA for
// extra identities, and kubeconfig files.
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { stringify } from 'yaml';
import { createCa, issueClientCert, type KeyPair } from './x509.ts';

export interface Pki {
  dir: string;
  saKey: string; // PKCS#8 private key: signs service-account tokens (apiserver) and legacy token secrets (KCM)
  saPub: string;
  tokensCsv: string;
  clientCaFile: string;
  adminToken: string;
  clientCa: KeyPair;
  certDir: string; // kube-apiserver writes its self-signed serving cert (apiserver.crt) here
}

export async function createPki(dir: string): Promise<Pki> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const certDir = path.join(dir, 'serving');
  await mkdir(certDir, { recursive: true });
  const sa = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const adminToken = randomBytes(24).toString('hex');
  const clientCa = await createCa('palisade-local-client-ca');
  const pki: Pki = {
    dir,
    saKey: path.join(dir, 'sa.key'),
    saPub: path.join(dir, 'sa.pub'),
    tokensCsv: path.join(dir, 'tokens.csv'),
    clientCaFile: path.join(dir, 'client-ca.crt'),
    adminToken,
    clientCa,
    certDir,
  };
  await writeFile(pki.saKey, sa.privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
  await writeFile(pki.saPub, sa.publicKey.export({ type: 'spki', format: 'pem' }));
  await writeFile(pki.tokensCsv, `${adminToken},admin,admin,"system:masters"\n`, { mode: 0o600 });
  await writeFile(pki.clientCaFile, clientCa.certPem);
  return pki;
}

// The apiserver's self-signed serving certificate, followed by the CA that signed it: usable as a CA bundle.
export function servingCertFile(pki: Pki): string {
  return path.join(pki.certDir, 'apiserver.crt');
}

export async function readServingCa(pki: Pki): Promise<Buffer> {
  return readFile(servingCertFile(pki));
}

export type Credentials = { token: string } | { certPem: string; keyPem: string };

export async function writeKubeconfig(
  file: string,
  server: string,
  ca: Buffer,
  user: string,
  creds: Credentials,
): Promise<void> {
  const userEntry =
    'token' in creds
      ? { token: creds.token }
      : {
          'client-certificate-data': Buffer.from(creds.certPem).toString('base64'),
          'client-key-data': Buffer.from(creds.keyPem).toString('base64'),
        };
  const config = {
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [
      { name: 'palisade-local', cluster: { server, 'certificate-authority-data': ca.toString('base64') } },
    ],
    users: [{ name: user, user: userEntry }],
    contexts: [{ name: user, context: { cluster: 'palisade-local', user } }],
    'current-context': user,
  };
  await writeFile(file, stringify(config), { mode: 0o600 });
}

export async function clientCredentials(pki: Pki, user: string, groups: string[]): Promise<Credentials> {
  const pair = await issueClientCert(pki.clientCa, { cn: user, o: groups });
  return { certPem: pair.certPem, keyPem: pair.keyPem };
}
