import { COMPONENT_LABEL, MANAGED_BY, MANAGED_BY_LABEL } from '../runtime/objects.ts';
import type { Secret } from '../runtime/kube/types.ts';

/**
 * Names and labels of the installation Secrets. Each versioned key lives in its own immutable Secret
 * (`<base>-v<N>`), written create-only: two replicas racing to create `-v1` cannot both win, and a
 * crash leaves either no Secret or a whole one.
 */
export const Component = {
  RootKey: 'root-key',
  JwtSigningKey: 'jwt-signing-key',
  HashSalt: 'hash-salt',
} as const;
export type Component = (typeof Component)[keyof typeof Component];

export const VERSION_LABEL = 'palisade.dev/version';
export const KEY_ID_ANNOTATION = 'palisade.dev/key-id';
export const FINGERPRINT_ANNOTATION = 'palisade.dev/fingerprint';
export const JWKS_CONFIGMAP = 'palisade-jwks';

export function secretName(component: Component, version?: number): string {
  return version === undefined ? `palisade-${component}` : `palisade-${component}-v${version}`;
}

export function installationSecret(opts: {
  namespace: string;
  component: Component;
  version?: number;
  data: Record<string, Uint8Array | string>;
  annotations?: Record<string, string>;
}): Secret {
  const labels: Record<string, string> = {
    [MANAGED_BY_LABEL]: MANAGED_BY,
    [COMPONENT_LABEL]: opts.component,
    ...(opts.version !== undefined ? { [VERSION_LABEL]: String(opts.version) } : {}),
  };
  const data: Record<string, string> = {};
  for (const [k, v] of Object.entries(opts.data)) data[k] = Buffer.from(v).toString('base64');
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: {
      name: secretName(opts.component, opts.version),
      namespace: opts.namespace,
      labels,
      ...(opts.annotations ? { annotations: opts.annotations } : {}),
    },
    type: 'Opaque',
    immutable: true,
    data,
  };
}

export function secretBytes(secret: Secret, key: string): Uint8Array {
  const v = secret.data?.[key];
  if (v === undefined) throw new Error(`Secret ${secret.metadata.name} has no "${key}" entry`);
  return new Uint8Array(Buffer.from(v, 'base64'));
}

export function versionOf(secret: Secret): number {
  const v = Number(secret.metadata.labels?.[VERSION_LABEL]);
  return Number.isInteger(v) && v > 0 ? v : 0;
}
