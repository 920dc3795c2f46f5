/**
 * `palisade agent pairing-code`: shows a ClusterAgent's current pairing code (from the Secret
 * `<name>-pairing-code` the operator shows it in, once, while it can be used) with what the agent needs
 * beside it (code ID, expiry, CA pin, server), or asks for a new one (`--new`: a new
 * spec.pairing.requestedAt, the GitOps-visible trigger) and waits for it. The CLI holds the code only to
 * print it; it is never logged or audited.
 */
import type { ClusterAgent } from '../../crds/v1alpha1/index.ts';
import { CODE_ID_ANNOTATION } from '../clusteragent/pairing.ts';
import type { KubeApi } from '../runtime/kube/api.ts';
import { KubeClient, loadKubeConfig } from '../runtime/kube/client.ts';
import type { Secret } from '../runtime/kube/types.ts';
import { secretString } from '../runtime/objects.ts';
import type { CommandContext } from './commands.ts';

export interface PairingCodeOptions {
  namespace: string;
  agent: string;
  /** Ask for a new code first. */
  renew: boolean;
  now: () => Date;
  /** How long to wait for a new code to be shown. */
  waitMs?: number;
  sleep?: (ms: number) => Promise<void>;
}

export interface ShownCode {
  code: string;
  codeID: string;
  expiresAt: string;
  caPin?: string;
  server?: string;
}

export async function pairingCode(api: KubeApi, o: PairingCodeOptions): Promise<ShownCode> {
  const ref = { kind: 'ClusterAgent', name: o.agent, namespace: o.namespace };
  const agent = await api.get<ClusterAgent>(ref);
  if (!agent) throw new Error(`ClusterAgent ${o.namespace}/${o.agent} not found`);
  const before = agent.status?.pairing?.codeID;
  if (o.renew) {
    const requestedAt = o.now().toISOString();
    await api.jsonPatch(
      ref,
      agent.spec.pairing
        ? [{ op: 'add', path: '/spec/pairing/requestedAt', value: requestedAt }]
        : [{ op: 'add', path: '/spec/pairing', value: { requestedAt } }],
    );
  }
  const sleep = o.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  const deadline = Date.now() + (o.renew ? (o.waitMs ?? 30_000) : 0);
  for (;;) {
    const s = await api.get<Secret>({
      kind: 'Secret',
      name: `${o.agent}-pairing-code`,
      namespace: o.namespace,
    });
    const id = s?.metadata.annotations?.[CODE_ID_ANNOTATION];
    if (s && id && (!o.renew || id !== before)) return shown(s);
    if (Date.now() >= deadline) break;
    await sleep(500);
  }
  const now = await api.get<ClusterAgent>(ref);
  const state = now?.status?.pairing?.state;
  throw new Error(
    o.renew
      ? `no new code was shown for ClusterAgent ${o.namespace}/${o.agent} in time (is the operator running with --keyservice-address?)`
      : `ClusterAgent ${o.namespace}/${o.agent} shows no code${state ? ` (pairing ${state})` : ''}: run again with --new for a new one`,
  );
}

function shown(s: Secret): ShownCode {
  const caPin = secretString(s, 'ca-pin');
  const server = secretString(s, 'server');
  return {
    code: secretString(s, 'code') ?? '',
    codeID: secretString(s, 'code-id') ?? '',
    expiresAt: secretString(s, 'expires-at') ?? '',
    ...(caPin ? { caPin } : {}),
    ...(server ? { server } : {}),
  };
}

/** What the CLI prints: the code, its facts, and the agent's command line. */
export function formatShownCode(c: ShownCode): string {
  return [
    `code:       ${c.code}`,
    `code ID:    ${c.codeID}`,
    `expires at: ${c.expiresAt}`,
    ...(c.caPin ? [`CA pin:     ${c.caPin}`] : []),
    ...(c.server ? [`server:     ${c.server}`] : []),
    '',
    `on the remote cluster: PALISADE_PAIRING_CODE=${c.code} palisade-agent pair --server ${c.server ?? '<host:port>'} --ca-fingerprint ${c.caPin ?? '<pin>'} …`,
    '',
  ].join('\n');
}

/** `palisade agent pairing-code --namespace NS --agent NAME [--new]`. */
export async function agentPairingCode(c: CommandContext): Promise<void> {
  const namespace = c.flags.namespace;
  const agent = c.flags.agent;
  if (typeof namespace !== 'string' || !namespace)
    throw new Error("--namespace (the ClusterAgent's) is required");
  if (typeof agent !== 'string' || !agent) throw new Error('--agent is required');
  const path = c.flags.kubeconfig;
  const api = new KubeClient(loadKubeConfig(typeof path === 'string' ? path : undefined), 'palisade-cli');
  const shownCode = await pairingCode(api, {
    namespace,
    agent,
    renew: c.flags.new === true,
    now: () => new Date(),
  });
  c.stdout(formatShownCode(shownCode));
}
