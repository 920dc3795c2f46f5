import { isDeepStrictEqual } from 'node:util';
import {
  createKeyPair,
  decodeJwt,
  deleteAccountsRequest,
  MessagingBus,
  nextIssuedAt,
  serviceUserJwt,
  tenantAccountClaim,
  tenantAccountJwt,
  type TenantAccountInput,
} from './protocol/index.ts';
import { mergeBundles } from '../pki/index.ts';
import { describeError } from '../runtime/errors.ts';
import type { Logger } from '../runtime/log.ts';
import type { NatsInstallation } from './bootstrap.ts';
import { HeartbeatStore } from './heartbeats.ts';

export interface NatsServiceOptions {
  servers: string[];
  log: Logger;
  now(): Date;
  /** How often one registered account is looked up to notice a server that lost its JWT store. */
  driftCheckMs?: number;
  /**
   * The CA bundles clients of nats-server must trust now, read from Palisade's own objects: the internal
   * CA bundle published (`palisade-ca-bundle`) and the CA of the certificate nats-server was given
   * (`palisade-nats-tls`); undefined while unread. After a CA rotation nats-server moves to the new CA,
   * which the bundle of start-up lacks; after an upgrade it may still present an earlier release's CA.
   */
  trustSources?: () => (string | undefined)[];
}

/**
 * What was pushed for an account: enough to sign the same JWT again (a re-push), not the JWT itself.
 * One object per account, its limits and an empty revocation list shared with the accounts that have the
 * same (most have): it is held for every tenant.
 */
class Registered implements TenantAccountInput {
  // NB: a class, so V8 keeps the fields in the object (a spread object of this size spills them into a
  // second array).
  readonly tenantUID: string;
  readonly tenantName: string;
  readonly account: string;
  readonly palisadeAccount: string;
  readonly limits: TenantAccountInput['limits'];
  readonly revocations: TenantAccountInput['revocations'];
  readonly iat: number;
  constructor(
    i: TenantAccountInput,
    iat: number,
    limits: TenantAccountInput['limits'] = i.limits,
    revocations: TenantAccountInput['revocations'] = i.revocations,
  ) {
    this.tenantUID = i.tenantUID;
    this.tenantName = i.tenantName;
    this.account = i.account;
    this.palisadeAccount = i.palisadeAccount;
    this.limits = limits;
    this.revocations = revocations;
    this.iat = iat;
  }
}

const NO_REVOCATIONS: TenantAccountInput['revocations'] = Object.freeze({});
/** Distinct limits shared at most: a platform sets a few; past that each account keeps its own. */
const MAX_SHARED_LIMITS = 64;

export interface AccountPush {
  /** The `iat` of the JWT the resolver holds. */
  issuedAt: number;
  /** True when this call pushed it (false: the resolver already held these claims). */
  pushed: boolean;
}

/**
 * Palisade's side of NATS: the bus, the account JWTs it pushed (in memory, so a server that restarts
 * or loses its JWT store gets every account back without any Kubernetes write), and the agent reports.
 */
export class NatsService {
  readonly heartbeats = new HeartbeatStore();
  private readonly o: NatsServiceOptions;
  private inst: NatsInstallation | undefined;
  private bus_: MessagingBus | undefined;
  private readonly accounts = new Map<string, Registered>();
  private readonly sharedLimits = new Map<string, TenantAccountInput['limits']>();
  private driftTimer: NodeJS.Timeout | undefined;
  private repairing: Promise<void> | undefined;
  private started = false;
  private readonly connectedListeners: (() => void)[] = [];

  constructor(o: NatsServiceOptions) {
    this.o = o;
  }

  get installation(): NatsInstallation {
    if (!this.inst) throw new Error('the NATS installation is not loaded yet');
    return this.inst;
  }

  /**
   * The CA bundle a client of nats-server must trust now: every certificate of the trust sources, else
   * the bundle read at start-up. Palisade's own connections read it at every dial; agents' credentials carry it.
   */
  trustBundle(): string {
    return mergeBundles(...(this.o.trustSources?.() ?? [])) || this.installation.tls.caPem;
  }

  private get bus(): MessagingBus {
    if (!this.bus_) throw new Error('not connected to NATS yet');
    return this.bus_;
  }

  /**
   * Connects in the background (retrying forever) with users made for this process: their seeds live in
   * memory only. Reconciles that need NATS fail, and retry, until the connection is up.
   */
  start(installation: NatsInstallation): void {
    if (this.started) return;
    this.started = true;
    this.inst = installation;
    const o = this.o;
    const issuedAt = Math.floor(o.now().getTime() / 1000);
    const user = (
      account: NatsInstallation['system'],
      name: string,
      perms: { pub: string[]; sub: string[] },
    ) => {
      const u = createKeyPair('U');
      return { jwt: serviceUserJwt(account, u.publicKey, name, issuedAt, perms), seed: u.seed };
    };
    this.bus_ = new MessagingBus({
      servers: o.servers,
      trust: () => this.trustBundle(),
      system: user(installation.system, 'palisade-resolver', { pub: ['$SYS.REQ.>'], sub: ['_INBOX.>'] }),
      palisade: user(installation.palisade, 'palisade-reports', {
        pub: ['palisade.t.*.agent.*.cmd.>'],
        sub: ['palisade.t.*.agent.*.*'],
      }),
      onReport: (origin, data) => this.heartbeats.record(origin, data, this.o.now().getTime()),
      onReconnect: () => void this.repushAll('reconnected to nats-server'),
      onDisconnect: (connection) => o.log.warn('disconnected from NATS; reconnecting', { connection }),
      onError: (what, err) => o.log.warn('NATS error', { what, error: describeError(err) }),
    });
    this.bus_.start().then(
      () => {
        this.o.log.info('connected to NATS', { servers: this.o.servers });
        for (const fn of this.connectedListeners) fn();
      },
      (e: unknown) => this.o.log.error('NATS connection failed', { error: describeError(e) }),
    );
    this.driftTimer = setInterval(() => void this.checkDrift(), this.o.driftCheckMs ?? 10_000);
    this.driftTimer.unref();
  }

  /** Calls `fn` once the first connection is up: work that failed for want of it can go again at once. */
  onConnected(fn: () => void): void {
    this.connectedListeners.push(fn);
  }

  async stop(): Promise<void> {
    clearInterval(this.driftTimer);
    await this.bus_?.close().catch(() => undefined);
  }

  /**
   * Makes the resolver hold a JWT with exactly these claims. Nothing is pushed when it already does
   * (known from memory, or from a lookup after a restart of the operator). A push always issues a newer
   * `iat` than any JWT seen for the account, and is confirmed by the resolver's reply.
   */
  async ensureAccount(input: TenantAccountInput, knownIssuedAt?: number): Promise<AccountPush> {
    const claim = tenantAccountClaim(input);
    const reg = this.accounts.get(input.account);
    if (reg && isDeepStrictEqual(tenantAccountClaim(reg), claim)) return { issuedAt: reg.iat, pushed: false };
    let previous = Math.max(reg?.iat ?? 0, knownIssuedAt ?? 0);
    if (!reg) {
      const held = await this.heldClaims(input.account);
      if (held && isDeepStrictEqual(withoutVersion(held.nats), claim)) {
        this.register(input, held.iat);
        return { issuedAt: held.iat, pushed: false };
      }
      previous = Math.max(previous, held?.iat ?? 0);
    }
    const iat = nextIssuedAt(this.o.now(), previous || undefined);
    const jwt = tenantAccountJwt(this.installation.operator, input, iat);
    await this.bus.pushAccount(jwt);
    this.register(input, iat);
    return { issuedAt: iat, pushed: true };
  }

  private register(input: TenantAccountInput, iat: number): void {
    const key = JSON.stringify(input.limits);
    let limits = this.sharedLimits.get(key);
    if (!limits) {
      limits = Object.freeze({ ...input.limits });
      if (this.sharedLimits.size < MAX_SHARED_LIMITS) this.sharedLimits.set(key, limits);
    }
    const revocations = Object.keys(input.revocations).length ? input.revocations : NO_REVOCATIONS;
    this.accounts.set(input.account, new Registered(input, iat, limits, revocations));
  }

  /** Removes accounts from the resolver; their users are disconnected and refused from then on. */
  async deleteAccount(account: string): Promise<void> {
    const iat = Math.floor(this.o.now().getTime() / 1000);
    await this.bus.deleteAccounts(deleteAccountsRequest(this.installation.operator, [account], iat));
    this.accounts.delete(account);
  }

  publishCommand(tenantUID: string, agent: string, verb: string, data: string): void {
    this.bus.publishCommand(tenantUID, agent, verb, data);
  }

  get accountCount(): number {
    return this.accounts.size;
  }

  private async heldClaims(account: string) {
    const jwt = await this.bus.lookupAccount(account);
    if (!jwt) return undefined;
    try {
      const c = decodeJwt<Record<string, unknown>>(jwt, 'O');
      return c.iss === this.installation.operator.publicKey ? { jwt, iat: c.iat, nats: c.nats } : undefined;
    } catch {
      return undefined;
    }
  }

  /** Looks up one registered account; if the resolver lost it, it lost the others too: re-push all. */
  private async checkDrift(): Promise<void> {
    const all = [...this.accounts.keys()];
    const probe = all[Math.floor(Math.random() * all.length)];
    if (!probe || !this.bus_?.isConnected() || this.repairing) return;
    try {
      if (!(await this.bus.lookupAccount(probe))) await this.repushAll('the resolver lost an account');
    } catch (e) {
      this.o.log.debug('drift check failed', { error: describeError(e) });
    }
  }

  private repushAll(why: string): Promise<void> {
    this.repairing ??= this.repush(why).finally(() => (this.repairing = undefined));
    return this.repairing;
  }

  private async repush(why: string): Promise<void> {
    const all = [...this.accounts.values()];
    this.o.log.info('re-pushing NATS accounts', { why, accounts: all.length });
    let failed = 0;
    const queue = [...all];
    await Promise.all(
      Array.from({ length: 16 }, async () => {
        for (let r = queue.shift(); r; r = queue.shift()) {
          const jwt = tenantAccountJwt(this.installation.operator, r, r.iat);
          await this.bus.pushAccount(jwt).catch(() => failed++);
        }
      }),
    );
    if (failed) this.o.log.warn('some accounts could not be re-pushed; the drift check retries', { failed });
  }
}

function withoutVersion(nats: Record<string, unknown>): Record<string, unknown> {
  const { type, version, ...rest } = nats;
  void type;
  void version;
  return rest;
}
