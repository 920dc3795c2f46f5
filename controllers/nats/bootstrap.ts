import {
  CLUSTER_LAYOUT,
  createKeyPair,
  fromSeed,
  operatorJwt,
  palisadeAccountJwt,
  renderServerConfig,
  systemAccountJwt,
  type NKeyPair,
  type NKeyRole,
  type ServerConfigInput,
  type TlsMaterial,
} from './protocol/index.ts';
import { createOrAdopt } from '../runtime/reconciler.ts';
import type { KubeClient } from '../runtime/kube/client.ts';
import type { Secret } from '../runtime/kube/types.ts';
import type { AuditLog, Logger } from '../runtime/log.ts';
import { NATS_SECRETS, NatsComponent, natsSecret, PUBLIC_KEY_ANNOTATION, secretText } from './secrets.ts';
import type { NatsTls } from './tls.ts';

export { serverNames } from './tls.ts';

export interface NatsInstallation {
  operator: NKeyPair;
  system: NKeyPair;
  palisade: NKeyPair;
  tls: TlsMaterial;
  server: ServerConfigInput;
}

export interface BootstrapDeps {
  client: KubeClient;
  namespace: string;
  log: Logger;
  audit: AuditLog;
  tls: NatsTls;
  now(): Date;
}

/**
 * At first start: the operator nkey, the system account and Palisade's account (seeds) — each created
 * once, create-only and immutable (a racing replica adopts the winner's) — and the server's TLS Secret,
 * which is derived, mutable and kept current (issued, renewed, reissued after a CA rotation: see
 * `NatsTls`). Then (re)publishes `palisade-nats-server`: config, JWTs and CA, all derived and public.
 * JWTs are issued at their seed Secret's creation time, so the rendered config is identical on every start.
 */
export async function ensureNatsInstallation(d: BootstrapDeps): Promise<NatsInstallation> {
  const op = await ensureSeed(d, NATS_SECRETS.operator, NatsComponent.Operator, 'O');
  const sys = await ensureSeed(d, NATS_SECRETS.systemAccount, NatsComponent.SystemAccount, 'A');
  const pal = await ensureSeed(d, NATS_SECRETS.palisadeAccount, NatsComponent.PalisadeAccount, 'A');
  const tlsSecret = await d.tls.ensureSecret(d);
  const tls: TlsMaterial = {
    caPem: secretText(tlsSecret, 'ca.crt'),
    certPem: secretText(tlsSecret, 'tls.crt'),
    keyPem: secretText(tlsSecret, 'tls.key'),
  };
  const server: ServerConfigInput = {
    operatorJwt: operatorJwt(op.key, sys.key.publicKey, op.issuedAt),
    systemAccount: sys.key.publicKey,
    systemAccountJwt: systemAccountJwt(op.key, sys.key.publicKey, sys.issuedAt),
    palisadeAccount: pal.key.publicKey,
    palisadeAccountJwt: palisadeAccountJwt(op.key, pal.key.publicKey, pal.issuedAt),
  };
  await d.client.apply(serverSecret(d.namespace, server, tls.caPem));
  return { operator: op.key, system: sys.key, palisade: pal.key, tls, server };
}

function serverSecret(namespace: string, s: ServerConfigInput, caPem: string): Secret {
  const secret = natsSecret({
    name: NATS_SECRETS.server,
    namespace,
    component: NatsComponent.Server,
    immutable: false,
    data: {
      'nats.conf': renderServerConfig(s, CLUSTER_LAYOUT),
      'operator.jwt': s.operatorJwt,
      'system-account': s.systemAccount,
      'system-account.jwt': s.systemAccountJwt,
      'palisade-account': s.palisadeAccount,
      'palisade-account.jwt': s.palisadeAccountJwt,
      'ca.crt': caPem,
    },
  });
  return secret;
}

async function ensureSeed(
  d: BootstrapDeps,
  name: string,
  component: NatsComponent,
  role: NKeyRole,
): Promise<{ key: NKeyPair; issuedAt: number }> {
  const secret = await createOnce(d, component, () => {
    const kp = createKeyPair(role);
    return natsSecret({
      name,
      namespace: d.namespace,
      component,
      data: { seed: kp.seed },
      annotations: { [PUBLIC_KEY_ANNOTATION]: kp.publicKey },
    });
  });
  const created = Date.parse(secret.metadata.creationTimestamp ?? '');
  return {
    key: fromSeed(secretText(secret, 'seed'), role),
    issuedAt: Math.floor((Number.isNaN(created) ? d.now().getTime() : created) / 1000),
  };
}

/** Creates the Secret `make()` builds unless it exists; returns whichever Secret exists afterwards. */
async function createOnce(
  d: BootstrapDeps,
  component: NatsComponent,
  make: () => Secret | Promise<Secret>,
): Promise<Secret> {
  const name = componentName(component);
  const ref = { kind: 'Secret', name, namespace: d.namespace };
  const existing = await d.client.get<Secret>(ref);
  if (existing) return existing;
  const made = await createOrAdopt(d.client, await make());
  if (made.created) {
    d.log.info('generated NATS installation secret', { component, secret: name });
    d.audit.record({ action: `${component}.generate`, outcome: 'Success', resource: ref });
  }
  return made.object;
}

function componentName(component: NatsComponent): string {
  const names: Partial<Record<NatsComponent, string>> = {
    [NatsComponent.Operator]: NATS_SECRETS.operator,
    [NatsComponent.SystemAccount]: NATS_SECRETS.systemAccount,
    [NatsComponent.PalisadeAccount]: NATS_SECRETS.palisadeAccount,
  };
  const name = names[component];
  if (!name) throw new Error(`no installation Secret for ${component}`);
  return name;
}
