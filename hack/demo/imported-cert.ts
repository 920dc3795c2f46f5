// The certificate globex "brings along" in the demo (examples/globex.yaml, binding `wildcard`): a
// throwaway CA signs a leaf for *.globex.example.com. Prints a kubectl-ready List of two Secrets, the
// leaf with its key (kubernetes.io/tls) and the CA certificate (ca.crt); the CA's private key is never
// written anywhere, so nothing else can be signed with it.
//
//   node hack/demo/imported-cert.ts [--namespace tenant-globex] | kubectl create -f -
import { KeyObject, randomBytes, type webcrypto as wc } from 'node:crypto';
import { parseArgs } from 'node:util';
import { webcrypto, x509 } from '../../controllers/pki/peculiar.ts';

const ECDSA_P256 = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;
const DAY_MS = 86_400_000;

interface Pair {
  cert: x509.X509Certificate;
  keys: wc.CryptoKeyPair;
}

const serial = (): string => `01${randomBytes(15).toString('hex')}`; // positive, 128 bits
const generate = async (): Promise<wc.CryptoKeyPair> =>
  (await webcrypto.subtle.generateKey(ECDSA_P256, true, ['sign', 'verify'])) as wc.CryptoKeyPair;

async function createCA(now: Date): Promise<Pair> {
  const keys = await generate();
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serial(),
    name: 'CN=Globex demo CA (throwaway)',
    notBefore: new Date(now.getTime() - 60_000),
    notAfter: new Date(now.getTime() + 365 * DAY_MS),
    keys,
    signingAlgorithm: ECDSA_P256,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  return { cert, keys };
}

async function issueLeaf(ca: Pair, dnsName: string, now: Date): Promise<Pair> {
  const keys = await generate();
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: serial(),
    subject: `CN=${dnsName}`,
    issuer: ca.cert.subject,
    notBefore: new Date(now.getTime() - 60_000),
    notAfter: new Date(now.getTime() + 90 * DAY_MS),
    publicKey: keys.publicKey,
    signingKey: ca.keys.privateKey,
    signingAlgorithm: ECDSA_P256,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
      new x509.SubjectAlternativeNameExtension([{ type: 'dns', value: dnsName }]),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
      await x509.AuthorityKeyIdentifierExtension.create(ca.cert),
    ],
  });
  return { cert, keys };
}

const b64 = (text: string): string => Buffer.from(text).toString('base64');

function secret(namespace: string, name: string, type: string, data: Record<string, string>) {
  // palisade.dev/watch=true: the operator sees a change to these Secrets at once (docs/certificates.md).
  const labels = { 'palisade.dev/watch': 'true', 'app.kubernetes.io/part-of': 'palisade-demo' };
  return { apiVersion: 'v1', kind: 'Secret', metadata: { name, namespace, labels }, type, data };
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { namespace: { type: 'string', default: 'tenant-globex' } } });
  const now = new Date();
  const ca = await createCA(now);
  const leaf = await issueLeaf(ca, '*.globex.example.com', now);
  const keyPem = KeyObject.from(leaf.keys.privateKey).export({ format: 'pem', type: 'pkcs8' }).toString();
  const items = [
    secret(values.namespace, 'globex-wildcard', 'kubernetes.io/tls', {
      'tls.crt': b64(leaf.cert.toString('pem')),
      'tls.key': b64(keyPem),
    }),
    secret(values.namespace, 'globex-ca', 'Opaque', { 'ca.crt': b64(ca.cert.toString('pem')) }),
  ];
  process.stdout.write(`${JSON.stringify({ apiVersion: 'v1', kind: 'List', items }, null, 2)}\n`);
}

await main();
