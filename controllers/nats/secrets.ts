/**
 * Names, labels and shapes of the Secrets behind Palisade's NATS installation (docs/messaging.md).
 *
 * In the operator's namespace, created once and immutable: the operator seed, the system account seed,
 * Palisade's own account seed, and the server's TLS material. Beside them, `palisade-nats-server` holds
 * everything nats-server needs that is not secret (its config, JWTs, CA), re-rendered on every start.
 * In each tenant namespace: the tenant account seed, wrapped by the root key, and the revocation list.
 */
import { COMPONENT_LABEL, MANAGED_BY, MANAGED_BY_LABEL, secretString } from '../runtime/objects.ts';
import type { Secret } from '../runtime/kube/types.ts';

export const NatsComponent = {
  Operator: 'nats-operator',
  SystemAccount: 'nats-system-account',
  PalisadeAccount: 'nats-palisade-account',
  Tls: 'nats-tls',
  Server: 'nats-server',
  TenantAccount: 'nats-account',
  Revocations: 'nats-revocations',
  AgentCredentials: 'nats-agent-credentials',
} as const;
export type NatsComponent = (typeof NatsComponent)[keyof typeof NatsComponent];

export const NATS_SECRETS = {
  operator: 'palisade-nats-operator',
  systemAccount: 'palisade-nats-system-account',
  palisadeAccount: 'palisade-nats-palisade-account',
  tls: 'palisade-nats-tls',
  server: 'palisade-nats-server',
  tenantAccount: 'palisade-nats-account',
  revocations: 'palisade-nats-revocations',
} as const;

/** The public nkey of the seed a Secret holds (safe to show). */
export const PUBLIC_KEY_ANNOTATION = 'palisade.dev/nats-public-key';
/** The root key version a wrapped seed is wrapped by: root rotation re-wraps by this label. */
export const ROOT_KEY_VERSION_LABEL = 'palisade.dev/root-key-version';

export function natsSecret(opts: {
  name: string;
  namespace: string;
  component: NatsComponent;
  data: Record<string, string | Uint8Array>;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  immutable?: boolean;
}): Secret {
  const data: Record<string, string> = {};
  for (const [k, v] of Object.entries(opts.data)) data[k] = Buffer.from(v).toString('base64');
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: {
      name: opts.name,
      namespace: opts.namespace,
      labels: { [MANAGED_BY_LABEL]: MANAGED_BY, [COMPONENT_LABEL]: opts.component, ...opts.labels },
      ...(opts.annotations ? { annotations: opts.annotations } : {}),
    },
    type: 'Opaque',
    ...(opts.immutable === false ? {} : { immutable: true }),
    data,
  };
}

export function secretText(secret: Secret, key: string): string {
  const v = secretString(secret, key);
  if (v === undefined) throw new Error(`Secret ${secret.metadata.name} has no "${key}" entry`);
  return v;
}

export function secretData(secret: Secret, key: string): Uint8Array {
  const v = secret.data?.[key];
  if (v === undefined) throw new Error(`Secret ${secret.metadata.name} has no "${key}" entry`);
  return new Uint8Array(Buffer.from(v, 'base64'));
}
