import { type Clock, systemClock } from './clock.ts';
import { Controller, type ControllerOptions } from './controller.ts';
import { describeError } from './errors.ts';
import { ApiEventRecorder, type EventRecorder } from './events.ts';
import { Informer, type ObjectCache } from './informer.ts';
import { KubeClient, loadKubeConfig } from './kube/client.ts';
import type { KubeObject } from './kube/types.ts';
import { LeaderElector } from './leaderelection.ts';
import { type AuditLog, createAuditLog, createLogger, type Logger } from './log.ts';
import { Metrics } from './metrics.ts';
import { ManagedNamespaces, NamespacedInformer, NamespaceSubset, type NamespaceSet } from './namespaced.ts';
import { ApiError } from './errors.ts';
import { type ProbeServer, startProbeServer } from './server.ts';
import { Shard, type ShardScope, type ShardSources } from './shard.ts';

export interface ManagerOptions {
  kubeconfig?: string;
  /** The operator's own namespace: installation Secrets, the leader Lease. */
  namespace: string;
  /** More namespaces whose Secrets Palisade reads from the start (the chart's certificateNamespaces). */
  extraNamespaces?: readonly string[];
  identity: string;
  leaderElection: boolean;
  /**
   * false: a replica that only serves from its {@link Manager.runOnEveryReplica} caches (the key API),
   * never campaigns for the Lease and never runs start-up tasks or controllers: a standby for good, so
   * it can run with other V8 flags than the replicas that reconcile (default true).
   */
  reconcile?: boolean;
  /** Written on the Lease while this replica leads it (LeaderElectionOptions.annotations). */
  leaseAnnotations?: Record<string, string>;
  probeAddress: string;
  logLevel?: string;
  auditFile?: string;
  clock?: Clock;
  /** Default reconciles in flight per controller. */
  concurrency?: number;
  /** Default period after which every controller re-checks every object (a test knob; 10 minutes). */
  resyncMs?: number;
  /** This replica set's shard of the tenants (runtime/shard.ts); absent: the default shard. */
  shard?: string;
  /**
   * Kinds whose caches keep their objects compacted (runtime/store.ts), each with what its objects have
   * in common as JSON text: the kinds there is one of per tenant or agent.
   */
  cacheDictionaries?: Readonly<Record<string, string>>;
  /** Called when the process must end (leadership lost): two leaders are worse than a restart. */
  onFatal?: (reason: string) => void;
}

export const FIELD_MANAGER = 'palisade-operator';

type Startable = Pick<ObjectCache<KubeObject>, 'kind' | 'start' | 'waitForSync'>;

interface StartupTask {
  name: string;
  run: () => Promise<void>;
  maxRetryDelayMs: number;
}

/**
 * Owns the process-wide pieces (client, informers, queue drivers, leader election, probes, logs) and
 * their order: probes first, and the informers a replica serves from ({@link runOnEveryReplica}); then,
 * once leading, the other caches synced → start-up tasks → controllers. A start-up task that fails is
 * retried with backoff; the replica stays unready meanwhile.
 */
export class Manager {
  readonly client: KubeClient;
  readonly clock: Clock;
  readonly log: Logger;
  readonly audit: AuditLog;
  readonly events: EventRecorder;
  readonly metrics = new Metrics();
  readonly namespace: string;
  /** Where namespaced informers watch: the operator's namespace, the extra ones, live tenants'. */
  readonly namespaces: ManagedNamespaces;
  /**
   * The managed namespaces Palisade keeps Secrets in: its own and the chart's for good, a tenant's while
   * something there holds Palisade's Secrets (controllers say what, with `follow`). Palisade's Secrets
   * are watched only there: most tenant namespaces hold none, and a list+watch each would cost the API
   * server and this process for nothing.
   */
  readonly secretHolders: NamespaceSubset;
  readonly shard: Shard;
  private readonly o: ManagerOptions;
  private readonly informers = new Map<string, ObjectCache<KubeObject>>();
  private readonly controllers: Controller<KubeObject>[] = [];
  private readonly startupTasks: StartupTask[] = [];
  private readonly unready = new Map<string, string>();
  private readonly everyReplica = new Set<Startable>();
  private readonly started = new Set<Startable>();
  private elector: LeaderElector | undefined;
  private probes: ProbeServer | undefined;
  private running = false;
  private stopping = false;

  constructor(opts: ManagerOptions) {
    this.o = opts;
    this.namespace = opts.namespace;
    this.namespaces = new ManagedNamespaces([...new Set([opts.namespace, ...(opts.extraNamespaces ?? [])])]);
    this.secretHolders = new NamespaceSubset('secret-holders', this.namespaces, { withFixed: true });
    this.clock = opts.clock ?? systemClock;
    this.shard = new Shard(opts.shard);
    this.log = createLogger({ level: opts.logLevel });
    this.audit = createAuditLog({ file: opts.auditFile, actor: `system:palisade:${opts.identity}` });
    this.client = new KubeClient(
      loadKubeConfig(opts.kubeconfig),
      FIELD_MANAGER,
      (verb, kind, code) => this.metrics.apiRequests.inc({ verb, kind, code: String(code) }),
      { onCredentials: (problem) => this.credentialsChanged(problem) },
    );
    this.events = new ApiEventRecorder({
      client: this.client,
      clock: this.clock,
      log: this.log,
      instance: opts.identity,
      onDropped: (type) => this.metrics.eventsDropped.inc({ type }),
    });
  }

  /** A shared informer per (kind, label selector, namespace: all when absent). */
  informer<T extends KubeObject>(kind: string, labelSelector?: string, namespace?: string): Informer<T> {
    const id = `${kind}|${labelSelector ?? ''}|${namespace ?? ''}`;
    let inf = this.informers.get(id);
    if (!inf) {
      inf = this.newInformer(kind, labelSelector, namespace);
      this.informers.set(id, inf);
    }
    return inf as unknown as Informer<T>;
  }

  /**
   * A shared informer per (kind, label selector, namespace set) over the managed namespaces only, or a
   * subset of them (NamespaceSubset): the way Secrets are read, since RBAC grants them nowhere else.
   */
  namespacedInformer<T extends KubeObject>(
    kind: string,
    labelSelector?: string,
    members: NamespaceSet = this.namespaces,
  ): NamespacedInformer<T> {
    const id = `${kind}|${labelSelector ?? ''}|<${members.name}>`;
    let inf = this.informers.get(id);
    if (!inf) {
      inf = new NamespacedInformer<KubeObject>(
        members,
        (ns) => this.newInformer(kind, labelSelector, ns),
        kind,
      );
      this.informers.set(id, inf);
    }
    return inf as unknown as NamespacedInformer<T>;
  }

  private newInformer(kind: string, labelSelector: string | undefined, namespace: string | undefined) {
    return new Informer<KubeObject>(this.client, {
      kind,
      labelSelector,
      namespace,
      clock: this.clock,
      dictionary: this.o.cacheDictionaries?.[kind],
      onError: (k, err, retryInMs) => {
        this.metrics.informerRestarts.inc({ kind: k });
        this.log.warn('list/watch failed; restarting', {
          kind: k,
          ...(namespace ? { namespace } : {}),
          retryInMs,
          error: describeError(err),
        });
        const forbidden = (err instanceof ApiError && err.code === 403) || /\b403\b/.test(String(err));
        if (forbidden && namespace && namespace !== this.namespace) this.namespaces.onForbidden?.(namespace);
      },
    });
  }

  addController<T extends KubeObject>(
    opts: Omit<ControllerOptions<T>, 'clock' | 'log' | 'metrics'>,
  ): Controller<T> {
    const c = new Controller<T>({
      concurrency: this.o.concurrency,
      resyncMs: this.o.resyncMs,
      ...opts,
      clock: this.clock,
      log: this.log,
      metrics: this.metrics,
    });
    this.controllers.push(c as unknown as Controller<KubeObject>);
    return c;
  }

  /**
   * Limits the named controllers to this replica's shard: `tenant` controllers by the Tenant's label,
   * `namespace` controllers by the Tenant that owns the namespace. A Tenant that moves into this shard
   * brings its namespace's objects along at once. Outside the default shard only these controllers run:
   * the others do installation-wide work, done once, by the default shard.
   */
  shardBy(
    scopes: Readonly<Record<string, ShardScope>>,
    sources: ShardSources & { namespaceOf(tenant: KubeObject): string | undefined },
  ): void {
    const shard = this.shard;
    shard.bind(sources);
    const scoped = this.controllers.filter((c) => scopes[c.name] !== undefined);
    for (const c of scoped) c.restrictTo((key) => shard.owns(scopes[c.name] as ShardScope, key));
    shard.onTenantMovedIn((t) => {
      const ns = sources.namespaceOf(t);
      if (ns) for (const c of scoped) if (scopes[c.name] === 'namespace') c.requeueNamespace(ns);
    });
  }

  /**
   * Work that must finish, as leader, before any controller starts (e.g. installation keys). A failure
   * is retried with backoff up to `maxRetryDelayMs` (default 30 s) between attempts.
   */
  addStartupTask(name: string, run: () => Promise<void>, opts: { maxRetryDelayMs?: number } = {}): void {
    this.startupTasks.push({ name, run, maxRetryDelayMs: opts.maxRetryDelayMs ?? 30_000 });
  }

  /**
   * Holds /readyz at "not ready" with `detail` (e.g. a missing root key) until called again with
   * `undefined`; `source` names who says so. Applies whether controllers run yet or not.
   */
  setUnready(source: string, detail: string | undefined): void {
    if (detail === undefined) this.unready.delete(source);
    else this.unready.set(source, detail);
  }

  /**
   * What /readyz answers: ready once controllers run, as a standby replica, or as a replica that only
   * serves; never while held unready.
   */
  readiness(): { ok: boolean; detail: string } {
    if (this.unready.size) return { ok: false, detail: [...this.unready.values()].join('\n') };
    if (!this.reconciles) return { ok: true, detail: 'serving only' };
    return this.running || (this.o.leaderElection && !this.elector?.isLeader())
      ? { ok: true, detail: this.running ? 'ok' : 'standby' }
      : { ok: false, detail: 'starting' };
  }

  isRunning(): boolean {
    return this.running;
  }

  /** Whether this replica leads now: it reconciles, alone or as the Lease's holder. */
  leads(): boolean {
    return this.reconciles && (!this.o.leaderElection || !!this.elector?.isLeader());
  }

  /** Whether this replica reconciles (as leader, or alone) or only serves (ManagerOptions.reconcile). */
  get reconciles(): boolean {
    return this.o.reconcile !== false;
  }

  /**
   * Starts an informer made after the controllers started (for a kind that appeared while running, e.g.
   * a CRD installed later) and resolves once its cache is synced. Earlier informers start with the
   * controllers, so this is only for a running manager.
   */
  async startInformer(inf: { kind: string; start(): Promise<void>; waitForSync(): Promise<void> }) {
    if (!this.running) throw new Error(`informer for ${inf.kind} started before the controllers`);
    await inf.start();
    await inf.waitForSync();
    this.metrics.informerSynced.set({ kind: inf.kind }, 1);
  }

  /**
   * Informers that start with the process on every replica, standby or leader: what a replica serves
   * from (the key service reads the keystore, TenantKeys and policies). Only caches: controllers and
   * start-up tasks still wait for leadership, and their handlers only enqueue until then.
   */
  runOnEveryReplica(...infs: Startable[]): void {
    for (const i of infs) this.everyReplica.add(i);
  }

  /** Resolves once every {@link runOnEveryReplica} cache is whole. */
  async everyReplicaSynced(): Promise<void> {
    await Promise.all([...this.everyReplica].map((i) => i.waitForSync()));
  }

  /** Credentials the API server rejects (even when re-read) hold /readyz with the reason, until accepted. */
  private credentialsChanged(problem: string | undefined): void {
    if (problem) this.log.error('the API server rejects the operator credentials', { detail: problem });
    else this.log.info('the API server accepts the operator credentials again');
    this.setUnready('api-credentials', problem);
  }

  async start(): Promise<void> {
    this.probes = await startProbeServer({
      address: this.o.probeAddress,
      metrics: this.metrics,
      ready: () => this.readiness(),
    });
    this.log.info('probe server listening', { address: this.o.probeAddress, port: this.probes.port });
    void this.startInformers([...this.everyReplica]);
    if (!this.reconciles) {
      this.log.info('serving only: no leader election, start-up tasks or controllers', {
        caches: [...this.everyReplica].map((i) => i.kind),
      });
      return;
    }
    if (!this.o.leaderElection) return this.runControllers();
    this.elector = new LeaderElector({
      client: this.client,
      clock: this.clock,
      log: this.log,
      namespace: this.namespace,
      name: this.shard.leaseName,
      identity: this.o.identity,
      ...(this.o.leaseAnnotations ? { annotations: this.o.leaseAnnotations } : {}),
    });
    this.elector.run({
      onStartedLeading: () => {
        this.metrics.isLeader.set(1);
        void this.runControllers();
      },
      onLost: () => {
        this.metrics.isLeader.set(0);
        this.o.onFatal?.('leadership lost');
      },
    });
  }

  get probePort(): number | undefined {
    return this.probes?.port;
  }

  async stop(): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    await Promise.all(this.controllers.map((c) => c.stop()));
    await Promise.all([...this.informers.values()].map((i) => i.stop()));
    await this.elector?.release().catch(() => undefined);
    await this.probes?.close();
    this.running = false;
    this.log.info('stopped');
  }

  private async runControllers(): Promise<void> {
    await this.startInformers([...this.informers.values()]);
    for (const task of this.startupTasks) await this.retry(task);
    if (this.stopping) return;
    // NB: installation-wide controllers run once, in the default shard; other shards run the scoped ones.
    const run = this.controllers.filter((c) => this.shard.isDefault || c.restricted);
    for (const c of run) c.start();
    this.running = true;
    this.log.info('controllers started', {
      controllers: run.map((c) => c.name),
      ...(this.shard.key ? { shard: this.shard.key } : {}),
    });
  }

  /** Starts those of `infs` not started yet (each once) and resolves when all of them are synced. */
  private async startInformers(infs: readonly Startable[]): Promise<void> {
    const fresh = infs.filter((i) => !this.started.has(i));
    for (const i of fresh) this.started.add(i);
    await Promise.all(fresh.map((i) => i.start()));
    await Promise.all(
      infs.map((i) => i.waitForSync().then(() => this.metrics.informerSynced.set({ kind: i.kind }, 1))),
    );
  }

  private async retry(task: StartupTask): Promise<void> {
    const { name, run } = task;
    for (let attempt = 0; !this.stopping; attempt++) {
      try {
        return await run();
      } catch (e) {
        const delay = Math.min(task.maxRetryDelayMs, 500 * 2 ** attempt);
        this.log.warn('start-up task failed; retrying', {
          task: name,
          retryInMs: delay,
          error: describeError(e),
        });
        await new Promise<void>((r) => this.clock.setTimer(delay, r));
      }
    }
  }
}
