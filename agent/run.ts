/**
 * `palisade-agent run`: a paired agent reporting over gRPC, NATS or both, from the credentials in its
 * store, and renewing them before they expire.
 *
 * Renewal, at the stored `renew-after` (or when Palisade sends `refresh-credentials`): new keys are made
 * here, Renew is called with the current certificate, and what comes back is checked and STORED before
 * any channel switches to it, so a crash at any point leaves credentials that work. gRPC then sends its
 * next report on the new certificate; NATS connects with the new user before the old connection is
 * drained, and a refusal of the old connection meanwhile is expected, not fatal. A failed renewal is
 * retried with backoff (an expired certificate is then refused: a new code is needed); a refused one
 * ends the agent.
 *
 * The agent ends (and `main.ts` exits 3) when either channel's credentials are refused: the ClusterAgent
 * was deleted or suspended. Anything else that stops a channel is retried.
 */
import { connectAgent, CredentialsRefusedError, type RunningAgent } from './agent.ts';
import { Backoff } from './backoff.ts';
import { GrpcChannel, type ChannelOptions } from './channel.ts';
import { isRefusal, type CallError } from './grpc.ts';
import { generateAgentKeys } from './keys.ts';
import { adoptCredentials, unissued } from './pair.ts';
import { formatCreds } from '../controllers/nats/protocol/accounts.ts';
import type { CredentialStore, StoredCredentials } from './store.ts';

export type ChannelName = 'grpc' | 'nats';

export interface RunOptions extends Omit<ChannelOptions, 'report' | 'onCommand'> {
  store: CredentialStore;
  channels: readonly ChannelName[];
  /** Overrides the stored `nats-url`. */
  natsServer?: string;
  onCommand?: (verb: string) => void;
}

export interface RunningChannels {
  /** Settles once the agent has stopped for good: undefined after stop(), else why. Never rejects. */
  readonly ended: Promise<Error | undefined>;
  /** The credentials in use (after a renewal, the renewed ones). */
  credentials(): StoredCredentials;
  grpc(): GrpcChannel;
  /** Renews now; resolves once the new credentials are stored and in use. */
  renew(): Promise<void>;
  stop(): Promise<void>;
}

const MAX_TIMER_MS = 2 ** 31 - 1;
const RECENT_RENEWAL_MS = 3_000;

/** Loads the stored credentials and starts the chosen channels on them. */
export async function runChannels(o: RunOptions): Promise<RunningChannels> {
  const loaded = await o.store.load();
  if (!loaded) throw new Error(`no credentials in ${o.store.where}: run \`palisade-agent pair\` first`);
  const run = new AgentRun(loaded, o);
  await run.start();
  return {
    ended: run.ended,
    credentials: () => run.creds,
    grpc: () => run.channel,
    renew: () => run.renewSafely(),
    stop: () => run.stop(),
  };
}

class AgentRun {
  readonly ended: Promise<Error | undefined>;
  readonly channel: GrpcChannel;
  creds: StoredCredentials;
  private readonly o: RunOptions;
  private readonly log: (line: string) => void;
  private readonly natsBackoff: Backoff;
  private nats: RunningAgent | undefined;
  private renewing: Promise<void> | undefined;
  private renewTimer: NodeJS.Timeout | undefined;
  private done = false;
  private renewedAt = 0;
  private settle: (why: Error | undefined) => void = () => undefined;

  constructor(creds: StoredCredentials, o: RunOptions) {
    this.creds = creds;
    this.o = o;
    this.log = o.log ?? (() => undefined);
    this.natsBackoff = new Backoff(o.backoff);
    this.ended = new Promise((resolve) => (this.settle = resolve));
    this.channel = new GrpcChannel(creds, {
      ...o,
      report: o.channels.includes('grpc'),
      onCommand: (c) => this.command(c.verb, `${c.id} over gRPC`),
    });
    void this.channel.ended.then((why) => why && this.finish(why));
  }

  async start(): Promise<void> {
    if (this.o.channels.includes('nats')) {
      await this.startNats(this.creds).catch((e: unknown) => {
        this.finish(e instanceof Error ? e : new Error(String(e)));
        throw e;
      });
    }
    const c = this.creds;
    this.log(
      `running as ClusterAgent ${c.namespace}/${c.clusterAgent} of tenant ${c.tenant} ` +
        `over ${this.o.channels.join(' and ')}`,
    );
    this.schedule();
  }

  /** A command from Palisade, on either channel. */
  private command(verb: string, from: string): void {
    this.log(`command ${verb} (${from})`);
    // NB: Palisade sends it on every channel (and again every 30 s until the agent renews): a copy that
    // arrives just after the renewal it asked for is stale.
    if (verb === 'refresh-credentials' && Date.now() - this.renewedAt > RECENT_RENEWAL_MS)
      void this.renewSafely();
    else if (verb === 'report-now') this.channel.reportNow();
    this.o.onCommand?.(verb);
  }

  async stop(): Promise<void> {
    const n = this.nats;
    this.finish(undefined);
    await Promise.all([n?.stop(), this.renewing]);
  }

  private finish(why: Error | undefined): void {
    if (this.done) return;
    this.done = true;
    clearTimeout(this.renewTimer);
    if (why instanceof CredentialsRefusedError) this.channel.refuse(why);
    else this.channel.stop();
    void this.nats?.stop();
    this.settle(why);
  }

  /** Connects NATS with `c`; its end is this agent's end only while it is the current connection. */
  private async startNats(c: StoredCredentials): Promise<void> {
    const server = this.o.natsServer ?? c.natsUrl;
    if (!c.natsJwt) throw new Error('no NATS user: Palisade runs without messaging; use --channels grpc');
    if (!server) throw new Error('no NATS URL: Palisade returned none; pass --nats-server');
    const { intervalMs, health, statistics } = this.o;
    const agent = await connectAgent(
      {
        creds: formatCreds(c.natsJwt, c.natsSeed),
        ca: c.caPem,
        tenantUID: c.tenantUID,
        name: c.clusterAgent,
        server,
      },
      {
        ...(intervalMs ? { intervalMs } : {}),
        ...(health ? { health } : {}),
        ...(statistics ? { statistics } : {}),
        log: this.log,
        onCommand: (verb) => this.command(verb, 'over NATS'),
      },
    );
    this.nats = agent;
    this.natsBackoff.reset();
    const onEnd = (why: Error | undefined): void => {
      // A connection replaced by a renewal, or stopped: not this agent's end.
      if (this.done || this.nats !== agent || !why) return;
      // NB: were Palisade to revoke the old user as soon as it answers Renew (before the new credentials
      // are stored and connected), a refusal during a renewal counts only if the renewal kept this user.
      if (this.renewing) return void this.renewing.then(() => onEnd(why));
      if (why instanceof CredentialsRefusedError) return this.finish(why);
      void this.retryNats();
    };
    void agent.ended.then(onEnd);
  }

  private async retryNats(): Promise<void> {
    while (!this.done) {
      await delay(this.natsBackoff.next());
      if (this.done) return;
      try {
        return await this.startNats(this.creds);
      } catch (e) {
        if (e instanceof CredentialsRefusedError) return this.finish(e);
        this.log(`NATS connection failed: ${(e as Error).message}; retrying`);
      }
    }
  }

  private schedule(): void {
    clearTimeout(this.renewTimer);
    const ms = Math.max(0, this.creds.renewAfter * 1000 - Date.now());
    this.renewTimer = setTimeout(() => void this.renewSafely(), Math.min(ms, MAX_TIMER_MS));
    this.renewTimer.unref();
  }

  /** Renews, retrying with backoff until it works or is refused; one renewal at a time. */
  renewSafely(): Promise<void> {
    this.renewing ??= (async () => {
      const backoff = new Backoff({ ...this.o.backoff, maxMs: 60_000 });
      while (!this.done) {
        try {
          return await this.renew();
        } catch (e) {
          if (isRefusal(e)) return this.finish(new CredentialsRefusedError(e as CallError));
          this.log(`renewal failed: ${(e as Error).message}; retrying`);
          await delay(backoff.next());
        }
      }
    })().finally(() => (this.renewing = undefined));
    return this.renewing;
  }

  private async renew(): Promise<void> {
    const keys = await generateAgentKeys();
    const res = await this.channel.current.renew({
      natsUserPublicKey: keys.natsPublicKey,
      certificateRequest: keys.certificateRequest,
    });
    const next = adoptCredentials(res.credentials, keys, unissued(this.creds));
    if (this.done) return;
    await this.o.store.save(next); // NB: stored before any channel uses it
    if (this.done) return;
    const previous = this.nats;
    this.creds = next;
    this.channel.switchTo(next);
    if (this.o.channels.includes('nats')) {
      this.nats = undefined; // the old connection's end is now expected
      await this.startNats(next).catch(() => this.retryNats());
      await previous?.stop();
    }
    this.log(
      `renewed credentials; the certificate is valid until ${new Date(next.notAfter * 1000).toISOString()}`,
    );
    this.schedule();
  }
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
