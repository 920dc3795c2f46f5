import os from 'node:os';
import { parseArgs } from 'node:util';
import { DEFAULT_AUDIENCE } from './keyservice/tokenreview.ts';

export interface OperatorConfig {
  kubeconfig?: string;
  namespace: string;
  leaderElection: boolean;
  /**
   * operator: reconciles (as leader) and serves the key API if asked; keyservice: only serves the key API
   * (and the cluster channel on its port), never leads: replicas that can run with V8 flags for latency
   * while the reconciling ones run with flags for memory.
   */
  role: 'operator' | 'keyservice';
  probeAddress: string;
  /** HTTPS listener for the probe endpoints, with the internal CA's certificate (off when absent). */
  secureAddress?: string;
  logLevel: string;
  auditFile?: string;
  identity: string;
  /** This replica set's shard of the Tenants (label palisade.dev/shard); absent: the default shard. */
  shard?: string;
  /** Keys one controller reconciles at once. */
  concurrency: number;
  /** NATS servers (`host:port`, TLS always); messaging is off when empty. */
  natsServers: string[];
  /** The URL written into agents' credentials (default: the first of natsServers). */
  natsAgentUrl?: string;
  /** The fixed ClusterRole (Secrets only) Palisade binds to its ServiceAccount in each tenant namespace. */
  namespaceRole?: string;
  /** The operator's ServiceAccount, the subject of those RoleBindings. */
  serviceAccount?: string;
  /** Namespaces besides its own where Palisade reads Secrets from the start (certificates outside tenants). */
  certificateNamespaces: string[];
  /** The key service's gRPC listener (off when absent). */
  keyServiceAddress?: string;
  /**
   * Where the other replicas reach this one's key service port while it leads (`host:port`): they relay
   * agents' reports to it (agentchannel/relay.ts). Default: $POD_IP, else the loopback, with that port.
   */
  advertiseAddress?: string;
  /** Where remote agents reach the cluster channel (`host:port`), written beside each pairing code. */
  agentChannelAddress?: string;
  /** Audiences a ServiceAccount token for the key service must carry. */
  keyServiceAudiences: string[];
  /** The `iss` of the key service's access tokens (default https://palisade-keyservice.<namespace>.svc). */
  tokenIssuer?: string;
  /** Test knobs, from the environment only: how often a live agent's status is refreshed, how long an
   * unreferenced root key version waits before it is deleted, how long an agent's client certificate is
   * valid (PALISADE_AGENT_CERT_LIFETIME_MS; default 24 h; an internal CA rotation overlaps twice that),
   * and how often every controller re-checks every object (PALISADE_RESYNC_MS; default 10 minutes). */
  agentStatusRefreshMs?: number;
  agentCertificateLifetimeMs?: number;
  rootRetireGraceMs?: number;
  resyncMs?: number;
}

const USAGE = `palisade operator

  --kubeconfig <path>        kubeconfig (default: $KUBECONFIG, then ~/.kube/config, then in-cluster)
  --namespace <ns>           the operator's namespace: installation keys, leader lease (default $POD_NAMESPACE or palisade-system)
  --leader-elect <bool>      campaign for a Lease before reconciling (default true)
  --role <role>              operator: reconcile (when leading) and serve; keyservice: only serve the key
                             service from this replica's caches, never lead (needs --keyservice-address;
                             the chart's keyService.replicas) (default operator)
  --probe-address <h:p>      /healthz, /readyz, /metrics (default 127.0.0.1:8080; the chart uses 0.0.0.0:8080)
  --secure-address <h:p>     the same endpoints over HTTPS (TLS 1.2+), with the certificate of the internal
                             CertificateBinding palisade-operator-tls (default: off; docs/certificates.md)
  --log-level <level>        error|warn|info|debug (default info)
  --audit-log <path>         audit log file (default: stderr)
  --identity <id>            leader election identity (default $POD_NAME or hostname-pid)
  --concurrency <n>          reconciles in flight per controller (default 8; Tenant and TenantKey: 32)
  --shard <key>              reconcile only the Tenants labelled palisade.dev/shard=<key> and their namespaces,
                             under a Lease of its own (default $PALISADE_SHARD; none: the Tenants without the
                             label, and the installation-wide work)
  --nats-url <h:p,...>       NATS servers (TLS); turns messaging on (default $PALISADE_NATS_URL; off when empty)
  --nats-agent-url <url>     the server URL written into agents' credentials (default $PALISADE_NATS_AGENT_URL)
  --namespace-role <name>    a ClusterRole granting Secrets; bound to --service-account in each tenant
                             namespace Palisade makes (default: none: the kubeconfig's own rights are used)
  --service-account <name>   the operator's ServiceAccount in --namespace (required with --namespace-role)
  --certificate-namespaces <ns,...>
                             more namespaces whose CertificateBindings Palisade serves (their Secret access
                             is granted by the chart); tenant namespaces need not be listed
  --keyservice-address <h:p> serve the key service (gRPC, TLS 1.2+, on every replica) here (default: off;
                             docs/keyservice.md)
  --advertise-address <h:p>  where the other replicas reach this one's key service port while it leads, to
                             relay the reports agents send them (default $POD_IP, else 127.0.0.1, with
                             the port of --keyservice-address)
  --agent-channel-address <h:p>
                             where remote agents reach the cluster channel (the key service's port as
                             exposed outside the cluster), written beside each pairing code (default
                             $PALISADE_AGENT_CHANNEL_ADDRESS; docs/agents.md)
  --keyservice-audiences <a,...>
                             audiences a caller's ServiceAccount token must carry (default palisade-keyservice)
  --token-issuer <url>       the iss claim of the key service's access tokens (default
                             https://palisade-keyservice.<namespace>.svc)
`;

/** This replica's address for the others: the pod's IP (or the loopback) with the listener's port. */
function advertised(listen: string, podIP: string | undefined): string {
  const port = listen.slice(listen.lastIndexOf(':') + 1);
  const host = podIP || '127.0.0.1';
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

/** Flags first, then environment, then defaults. Throws with the usage text on a bad flag. */
export function parseConfig(argv: string[], env: NodeJS.ProcessEnv = process.env): OperatorConfig {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        kubeconfig: { type: 'string' },
        namespace: { type: 'string' },
        'leader-elect': { type: 'string' },
        role: { type: 'string' },
        'probe-address': { type: 'string' },
        'secure-address': { type: 'string' },
        'log-level': { type: 'string' },
        'audit-log': { type: 'string' },
        identity: { type: 'string' },
        concurrency: { type: 'string' },
        shard: { type: 'string' },
        'nats-url': { type: 'string' },
        'nats-agent-url': { type: 'string' },
        'namespace-role': { type: 'string' },
        'service-account': { type: 'string' },
        'certificate-namespaces': { type: 'string' },
        'keyservice-address': { type: 'string' },
        'agent-channel-address': { type: 'string' },
        'advertise-address': { type: 'string' },
        'keyservice-audiences': { type: 'string' },
        'token-issuer': { type: 'string' },
        help: { type: 'boolean' },
      },
      strict: true,
    }));
  } catch (e) {
    throw new Error(`${e instanceof Error ? e.message : String(e)}\n\n${USAGE}`);
  }
  if (values.help) throw new Error(USAGE);
  const leader = values['leader-elect'] ?? 'true';
  if (leader !== 'true' && leader !== 'false')
    throw new Error(`--leader-elect must be true or false\n\n${USAGE}`);
  const role = values.role ?? 'operator';
  if (role !== 'operator' && role !== 'keyservice')
    throw new Error(`--role must be operator or keyservice\n\n${USAGE}`);
  if (role === 'keyservice' && !values['keyservice-address'])
    throw new Error(`--role=keyservice needs --keyservice-address (what it serves)\n\n${USAGE}`);
  const concurrency = Number(values.concurrency ?? '8');
  if (!Number.isInteger(concurrency) || concurrency < 1)
    throw new Error(`--concurrency must be a positive integer\n\n${USAGE}`);
  const namespaceRole = values['namespace-role'] || undefined;
  const serviceAccount = values['service-account'] || undefined;
  if (namespaceRole && !serviceAccount)
    throw new Error(`--namespace-role needs --service-account (the subject it is bound to)\n\n${USAGE}`);
  const positive = (v: string | undefined) => (Number(v) > 0 ? Number(v) : undefined);
  const shard = values.shard ?? env.PALISADE_SHARD ?? '';
  // NB: a label value, and part of the Lease's name.
  if (shard && !/^[a-z0-9]([-a-z0-9]{0,38}[a-z0-9])?$/.test(shard))
    throw new Error(`--shard must be a DNS label of at most 40 characters\n\n${USAGE}`);
  return {
    natsServers: (values['nats-url'] ?? env.PALISADE_NATS_URL ?? '').split(',').filter(Boolean),
    natsAgentUrl: values['nats-agent-url'] ?? env.PALISADE_NATS_AGENT_URL,
    ...(namespaceRole ? { namespaceRole, serviceAccount } : {}),
    certificateNamespaces: (values['certificate-namespaces'] ?? '').split(',').filter(Boolean),
    ...(values['keyservice-address']
      ? {
          keyServiceAddress: values['keyservice-address'],
          advertiseAddress:
            values['advertise-address'] ?? advertised(values['keyservice-address'], env.POD_IP),
        }
      : {}),
    ...((values['agent-channel-address'] ?? env.PALISADE_AGENT_CHANNEL_ADDRESS)
      ? { agentChannelAddress: values['agent-channel-address'] ?? env.PALISADE_AGENT_CHANNEL_ADDRESS }
      : {}),
    keyServiceAudiences: (values['keyservice-audiences'] || DEFAULT_AUDIENCE).split(',').filter(Boolean),
    ...(values['token-issuer'] ? { tokenIssuer: values['token-issuer'] } : {}),
    agentStatusRefreshMs: positive(env.PALISADE_AGENT_STATUS_REFRESH_MS),
    agentCertificateLifetimeMs: positive(env.PALISADE_AGENT_CERT_LIFETIME_MS),
    rootRetireGraceMs: positive(env.PALISADE_ROOT_RETIRE_GRACE_MS),
    resyncMs: positive(env.PALISADE_RESYNC_MS),
    ...(shard ? { shard } : {}),
    concurrency,
    kubeconfig: values.kubeconfig ?? env.KUBECONFIG,
    namespace: values.namespace ?? env.POD_NAMESPACE ?? 'palisade-system',
    leaderElection: leader === 'true',
    role,
    probeAddress: values['probe-address'] ?? '127.0.0.1:8080',
    secureAddress: values['secure-address'],
    logLevel: values['log-level'] ?? 'info',
    auditFile: values['audit-log'],
    identity: values.identity ?? env.POD_NAME ?? `${os.hostname()}-${process.pid}`,
  };
}
