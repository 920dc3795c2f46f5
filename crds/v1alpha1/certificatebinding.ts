/**
 * CertificateBinding: one TLS certificate from exactly one source — cert-manager, an imported Secret, or
 * Palisade's internal CA — with its facts and an expiry warning in status.
 */
import { arrayOf, dateTime, int, objectOf, oneOf, str } from '../schema/schema.ts';
import type { Typed, ValidationRule } from '../schema/schema.ts';
import {
  AGE_COLUMN,
  CERT_DNS_NAME_PATTERN,
  DNS_SUBDOMAIN_PATTERN,
  GROUP,
  READY_COLUMN,
  REASON_COLUMN,
  VERSION,
  conditionsSchema,
  customResourceDefinition,
  durationSchema,
  immutableRule,
  celIsDuration,
  objectNameSchema,
  observedGenerationSchema,
} from './common.ts';
import type { Condition, ObjectMeta, ResourceInfo } from './common.ts';

export const CERTIFICATE_SOURCES = ['CertManager', 'Imported', 'Internal'] as const;
export type CertificateSource = (typeof CERTIFICATE_SOURCES)[number];
export const ISSUER_KINDS = ['Issuer', 'ClusterIssuer'] as const;
export type IssuerKind = (typeof ISSUER_KINDS)[number];
export const PRIVATE_KEY_ALGORITHMS = ['RSA', 'ECDSA', 'Ed25519'] as const;
export type PrivateKeyAlgorithm = (typeof PRIVATE_KEY_ALGORITHMS)[number];
export const RSA_KEY_SIZES = [2048, 3072, 4096] as const;
export const ECDSA_KEY_SIZES = [256, 384, 521] as const;
export const DEFAULT_EXPIRY_WARNING = '336h';
export const DEFAULT_INTERNAL_DURATION = '2160h';
export const DEFAULT_INTERNAL_RENEW_BEFORE = '720h';
/** Bounds of a certificate's lifetime and renewal margin, as cert-manager enforces them. */
export const MIN_CERT_DURATION = '1h';
export const MIN_RENEW_BEFORE = '5m';
export const MAX_DNS_NAMES = 100;

export const CertificateBindingResource: ResourceInfo<'CertificateBinding'> = {
  group: GROUP,
  version: VERSION,
  kind: 'CertificateBinding',
  plural: 'certificatebindings',
  scope: 'Namespaced',
};

export interface CertificateBinding {
  apiVersion: `${typeof GROUP}/${typeof VERSION}`;
  kind: 'CertificateBinding';
  metadata: ObjectMeta;
  spec: CertificateBindingSpec;
  status?: CertificateBindingStatus;
}

/** Exactly one of certManager, imported, internal is set. Defaulted fields are always present when read. */
export interface CertificateBindingSpec {
  certManager?: CertManagerSource;
  imported?: ImportedSource;
  internal?: InternalSource;
  secretName?: string;
  expiryWarning: string;
}

export interface CertManagerSource {
  issuerRef: IssuerRef;
  dnsNames: string[];
  duration?: string;
  renewBefore?: string;
  privateKey?: PrivateKeySpec;
}

export interface IssuerRef {
  name: string;
  kind: IssuerKind;
  group: string;
}

export interface PrivateKeySpec {
  algorithm: PrivateKeyAlgorithm;
  size?: number;
}

export interface ImportedSource {
  secretRef: LocalObjectReference;
  caSecretRef?: SecretKeySelector;
  dnsNames: string[];
}

export interface LocalObjectReference {
  name: string;
}

export interface SecretKeySelector {
  name: string;
  key: string;
}

export interface InternalSource {
  dnsNames: string[];
  duration: string;
  renewBefore: string;
}

export interface CertificateBindingStatus {
  source?: CertificateSource;
  secretName?: string;
  notBefore?: string;
  notAfter?: string;
  renewalTime?: string;
  serialNumber?: string;
  fingerprintSHA256?: string;
  dnsNames?: string[];
  issuer?: string;
  observedGeneration?: number;
  conditions?: Condition[];
}

/**
 * Rules on one DNS name beyond its pattern, each naming the problem (controllers/certificatebinding/
 * validate.ts `dnsNameProblems` checks the same on the operator's side, for objects admitted before).
 */
export const DNS_NAME_RULES = [
  {
    // RFC 1035 §2.3.4: labels are 63 octets or less.
    rule: "!self.matches('[^.]{64,}')",
    messageExpression:
      "self + ' has a label (a part between dots) longer than 63 characters, the most a DNS label may have'",
  },
  {
    // NB: a name whose last label is numeric is an IP address to clients (the WHATWG URL parser reads
    // `10.0.0.1`, even `1.2.3`, as IPv4): as a DNS subjectAltName it would never match anything.
    rule: "!self.matches('(^|[.])[0-9]+$')",
    messageExpression:
      "self + ' is not a DNS name: its last label is numeric, so clients read it as an IP address; certificates here carry DNS names only'",
  },
] as const satisfies readonly ValidationRule[];

function dnsNames(description: string) {
  return arrayOf(
    str({
      description: 'A DNS name; a leading "*." makes it a wildcard. Not an IP address; labels of at most 63.',
      maxLength: 253,
      pattern: CERT_DNS_NAME_PATTERN,
      rules: [...DNS_NAME_RULES],
    }),
    { description, minItems: 1, maxItems: MAX_DNS_NAMES, 'x-kubernetes-list-type': 'set' },
  );
}

const renewBeforeShorterThanDuration = {
  rule:
    `!has(self.renewBefore) || !has(self.duration) || !${celIsDuration('self.renewBefore')} || ` +
    `!${celIsDuration('self.duration')} || duration(self.renewBefore) < duration(self.duration)`,
  messageExpression:
    "'renewBefore (' + self.renewBefore + ') must be shorter than duration (' + self.duration + ')'",
  fieldPath: '.renewBefore',
};

const issuerRef = objectOf<IssuerRef>()({
  description: 'The cert-manager issuer to request the certificate from.',
  properties: {
    name: str({ description: 'Name of the issuer.', minLength: 1, maxLength: 253 }),
    kind: oneOf(ISSUER_KINDS, {
      description: 'Issuer (in this namespace) or ClusterIssuer.',
      default: 'Issuer',
    }),
    group: str({
      description: 'API group of the issuer.',
      maxLength: 253,
      pattern: DNS_SUBDOMAIN_PATTERN,
      default: 'cert-manager.io',
    }),
  },
  required: ['name'],
});

const privateKey = objectOf<PrivateKeySpec>()({
  description: 'The private key to generate.',
  properties: {
    algorithm: oneOf(PRIVATE_KEY_ALGORITHMS, { description: 'RSA, ECDSA or Ed25519.', default: 'RSA' }),
    size: int({
      description:
        `Key size: RSA ${RSA_KEY_SIZES.join(', ')} (default 2048); ECDSA ${ECDSA_KEY_SIZES.join(', ')} ` +
        '(default 256); none for Ed25519.',
      format: 'int32',
      minimum: 1,
      maximum: 8192,
    }),
  },
  rules: [
    {
      rule: `self.algorithm != 'RSA' || !has(self.size) || self.size in [${RSA_KEY_SIZES.join(', ')}]`,
      message: `RSA key size must be one of ${RSA_KEY_SIZES.join(', ')}`,
      fieldPath: '.size',
    },
    {
      rule: `self.algorithm != 'ECDSA' || !has(self.size) || self.size in [${ECDSA_KEY_SIZES.join(', ')}]`,
      message: `ECDSA key size must be one of ${ECDSA_KEY_SIZES.join(', ')}`,
      fieldPath: '.size',
    },
    {
      rule: "self.algorithm != 'Ed25519' || !has(self.size)",
      message: 'Ed25519 keys have a fixed size: leave size unset',
      fieldPath: '.size',
    },
  ],
});

const certManager = objectOf<CertManagerSource>()({
  description:
    'Have cert-manager issue the certificate: Palisade creates and owns a cert-manager Certificate.',
  properties: {
    issuerRef,
    dnsNames: dnsNames('The DNS names the certificate is for.'),
    duration: durationSchema({
      description: `Requested lifetime (a Go duration, at least ${MIN_CERT_DURATION}). Default: the issuer's.`,
      min: MIN_CERT_DURATION,
    }),
    renewBefore: durationSchema({
      description: `Renew this long before expiry (at least ${MIN_RENEW_BEFORE}, less than duration).`,
      min: MIN_RENEW_BEFORE,
    }),
    privateKey,
  },
  required: ['issuerRef', 'dnsNames'],
  rules: [renewBeforeShorterThanDuration],
});

const imported = objectOf<ImportedSource>()({
  description: 'Use a certificate and key the user provides. Palisade validates it but never modifies it.',
  properties: {
    secretRef: objectOf<LocalObjectReference>()({
      description: 'A Secret in this namespace with tls.crt and tls.key (kubernetes.io/tls).',
      properties: { name: objectNameSchema('Name of the Secret.') },
      required: ['name'],
    }),
    caSecretRef: objectOf<SecretKeySelector>()({
      description: 'A Secret in this namespace holding the CA chain to verify the certificate against.',
      properties: {
        name: objectNameSchema('Name of the Secret.'),
        key: str({
          description: 'The key in the Secret.',
          maxLength: 253,
          pattern: '^[-._a-zA-Z0-9]+$',
          default: 'ca.crt',
        }),
      },
      required: ['name'],
    }),
    dnsNames: dnsNames('The names (FQDNs) the certificate must cover.'),
  },
  required: ['secretRef', 'dnsNames'],
});

const internal = objectOf<InternalSource>()({
  description: "Have Palisade's internal CA issue the certificate (RSA 2048), for inter-service HTTPS.",
  properties: {
    dnsNames: dnsNames('The DNS names the certificate is for.'),
    duration: durationSchema({
      description: `Lifetime of each certificate (at least ${MIN_CERT_DURATION}).`,
      default: DEFAULT_INTERNAL_DURATION,
      min: MIN_CERT_DURATION,
    }),
    renewBefore: durationSchema({
      description: `Renew this long before expiry (at least ${MIN_RENEW_BEFORE}, less than duration).`,
      default: DEFAULT_INTERNAL_RENEW_BEFORE,
      min: MIN_RENEW_BEFORE,
    }),
  },
  required: ['dnsNames'],
  rules: [renewBeforeShorterThanDuration],
});

const spec = objectOf<CertificateBindingSpec>()({
  description: 'The desired certificate: exactly one source, and where to put it.',
  properties: {
    certManager,
    imported,
    internal,
    secretName: str({
      description:
        'The kubernetes.io/tls Secret Palisade writes the certificate to, in this namespace. Required for ' +
        'certManager and internal; not allowed for imported (that Secret is used as it is). Immutable once set.',
      minLength: 1,
      maxLength: 253,
      pattern: DNS_SUBDOMAIN_PATTERN,
      rules: [immutableRule('secretName')],
    }),
    expiryWarning: durationSchema({
      description:
        'Set the Expiring condition (and warn with an Event) when the certificate expires within this long.',
      default: DEFAULT_EXPIRY_WARNING,
      min: '1h',
    }),
  },
  rules: [
    {
      rule: '(has(self.certManager) ? 1 : 0) + (has(self.imported) ? 1 : 0) + (has(self.internal) ? 1 : 0) == 1',
      message: 'exactly one of certManager, imported or internal must be set',
    },
    {
      rule: 'has(self.imported) || has(self.secretName)',
      message: 'secretName is required for the certManager and internal sources',
      fieldPath: '.secretName',
      reason: 'FieldValueRequired',
    },
    {
      rule: '!has(self.imported) || !has(self.secretName)',
      message: 'secretName must not be set for an imported certificate: the imported Secret is used as it is',
      fieldPath: '.secretName',
      reason: 'FieldValueForbidden',
    },
    {
      rule: '!has(oldSelf.secretName) || has(self.secretName)',
      message: 'secretName cannot be removed once set',
      fieldPath: '.secretName',
      reason: 'FieldValueForbidden',
    },
  ],
});

const status: Typed<CertificateBindingStatus> = objectOf<CertificateBindingStatus>()({
  description: 'The observed certificate, written by Palisade.',
  properties: {
    source: oneOf(CERTIFICATE_SOURCES, { description: 'Where the certificate comes from.' }),
    secretName: objectNameSchema('The Secret holding the certificate in use.'),
    notBefore: dateTime('Start of the certificate validity.'),
    notAfter: dateTime('End of the certificate validity.'),
    renewalTime: dateTime('When the certificate will be renewed (not set for imported certificates).'),
    serialNumber: str({ description: 'Serial number of the certificate, in hex.' }),
    fingerprintSHA256: str({ description: 'SHA-256 fingerprint of the DER certificate, in hex.' }),
    dnsNames: arrayOf(str({ description: 'A DNS name.' }), {
      description: 'The DNS names in the certificate.',
      'x-kubernetes-list-type': 'atomic',
    }),
    issuer: str({ description: 'The issuer distinguished name.' }),
    observedGeneration: observedGenerationSchema(),
    conditions: conditionsSchema(),
  },
});

export const certificateBindingCRD = customResourceDefinition<CertificateBinding>({
  resource: CertificateBindingResource,
  shortNames: ['cb'],
  description:
    'A TLS certificate from exactly one source (cert-manager, an imported Secret, or the internal CA), ' +
    'with its validity and an expiry warning in status.',
  spec,
  status,
  printerColumns: [
    {
      name: 'Source',
      type: 'string',
      jsonPath: '.status.source',
      description: 'Where the certificate comes from.',
    },
    READY_COLUMN,
    REASON_COLUMN,
    // NB: a string, not a date: kubectl prints future dates as "<invalid>".
    { name: 'Not After', type: 'string', jsonPath: '.status.notAfter', description: 'End of validity.' },
    AGE_COLUMN,
    { name: 'Secret', type: 'string', jsonPath: '.status.secretName', priority: 1 },
    { name: 'Renewal', type: 'string', jsonPath: '.status.renewalTime', priority: 1 },
  ],
});
