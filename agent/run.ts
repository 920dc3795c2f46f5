/**
 * `palisade-agent run`: a paired agent reporting over gRPC, NATS or both, from the credentials in its
 * store, and renewing them before they expire.
 *
 * Renewal, at the stored `renew-after` (or when Palisade sends `refresh-credentials`): new keys are made
 * here, Renew is called with the current certificate, and what comes back is checked and STORED before
 * any channel switches to it, so a crash at any point leaves credentials that work. gRPC then sends its
 * next report on the new certificate; NATS connects with the new user before the old connection is
 * drained, and the old connection's refusal (Palisade revokes the old user) is expected, not fatal. A
 * failed renewal is retried with backoff until the certificate expires; a refused one ends the agent.
 *
 * The agent ends (and `main.ts` exits 3) when either channel's credentials are refused: the ClusterAgent
 * was deleted or suspended. Anything else that stops a channel is retried.
 */
import { connectAgent, CredentialsRefusedError, type RunningAgent } from './agent.ts';
import { Backoff } from './backoff.ts';
import { GrpcChannel, type ChannelOptions } from './channel.ts';
import type { CallError } from './grpc.ts';
import { isRefusal } from './grpc.ts';
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

export async function runChannels(o: RunOptions): Promise<RunningChannels> {
  const log = o.log ?? (() => undefined);
  const loaded = await o.store.load();
  if (!loaded) throw new Error(`no credentials in ${o.store.where}: run \`palisade-agent pair\` first`);
  let creds: StoredCredentials = loaded;
  let done = false;
  let settle: (why: Error | undefined) => void = () => undefined;
  const ended = new Promise<Error | undefined>((resolve) => (settle = resolve));

  const channel = new GrpcChannel(creds, {
    ...o,
    report: o.channels.includes('grpc'),
    onCommand: (c) => {
      log(`command ${c.verb} (${c.id})`);
      if (c.verb === 'refresh-credentials') void renewSafely();
      o.onCommand?.(c.verb);
    },
  });

  let nats: RunningAgent | undefined;
  const natsBackoff = new Backoff(o.backoff);
  const startNats = async (c: StoredCredentials): Promise<void> => {
    const server = o.natsServer ?? c.natsUrl;
    if (!server) throw new Error('no NATS URL: Palisade returned none; pass --nats-server');
    const agent = await connectAgent(
      {
        creds: formatCreds(c.natsJwt, c.natsSeed),
        ca: c.caPem,
        tenantUID: c.tenantUID,
        name: c.clusterAgent,
        server,
      },
      {
        ...(o.intervalMs ? { intervalMs: o.intervalMs } : {}),
        ...(o.health ? { health: o.health } : {}),
        ...(o.statistics ? { statistics: o.statistics } : {}),
        log,
        onCommand: (verb) => o.onCommand?.(verb),
      },
    );
    nats = agent;
    natsBackoff.reset();
    const onEnd = (why: Error | undefined): void => {
      // A connection replaced by a renewal, or stopped: not this agent's end.
      if (done || nats !== agent || !why) return;
      // NB: Palisade may revoke the old user as soon as it answers Renew, before the new credentials
      // are stored and connected: a refusal during a renewal counts only if the renewal kept this user.
      if (renewing) return void renewing.then(() => onEnd(why));
      if (why instanceof CredentialsRefusedError) return finish(why);
      void retryNats();
    };
    void agent.ended.then(onEnd);
  };
  const retryNats = async (): Promise<void> => {
    while (!done) {
      await delay(natsBackoff.next());
      if (done) return;
      try {
        return await startNats(creds);
      } catch (e) {
        if (e instanceof CredentialsRefusedError) return finish(e);
        log(`NATS connection failed: ${(e as Error).message}; retrying`);
      }
    }
  };

  let renewTimer: NodeJS.Timeout | undefined;
  const schedule = () => {
    clearTimeout(renewTimer);
    const ms = Math.max(0, creds.renewAfter * 1000 - Date.now());
    renewTimer = setTimeout(() => void renewSafely(), Math.min(ms, MAX_TIMER_MS));
    renewTimer.unref();
  };

  let renewing: Promise<void> | undefined;
  const renew = async (): Promise<void> => {
    const keys = await generateAgentKeys();
    const res = await channel.current.renew({
      natsUserPublicKey: keys.natsPublicKey,
      certificateRequest: keys.certificateRequest,
    });
    const next = adoptCredentials(res.credentials, keys, unissued(creds));
    if (done) return;
    await o.store.save(next); // NB: stored before any channel uses it
    if (done) return;
    const previous = nats;
    creds = next;
    channel.switchTo(next);
    if (o.channels.includes('nats')) {
      nats = undefined; // the old connection's end (revoked) is now expected
      await startNats(next).catch(() => retryNats());
      await previous?.stop();
    }
    log(
      `renewed credentials; the certificate is valid until ${new Date(next.notAfter * 1000).toISOString()}`,
    );
    schedule();
  };
  const renewSafely = (): Promise<void> => {
    renewing ??= (async () => {
      const backoff = new Backoff({ ...o.backoff, maxMs: 60_000 });
      while (!done) {
        try {
          return await renew();
        } catch (e) {
          if (isRefusal(e)) return finish(new CredentialsRefusedError(e as CallError));
          log(`renewal failed: ${(e as Error).message}; retrying`);
          await delay(backoff.next());
        }
      }
    })().finally(() => (renewing = undefined));
    return renewing;
  };

  const finish = (why: Error | undefined): void => {
    if (done) return;
    done = true;
    clearTimeout(renewTimer);
    if (why instanceof CredentialsRefusedError) channel.refuse(why);
    else channel.stop();
    void nats?.stop();
    settle(why);
  };
  void channel.ended.then((why) => why && finish(why));

  if (o.channels.includes('nats')) {
    await startNats(creds).catch((e: unknown) => {
      finish(e instanceof Error ? e : new Error(String(e)));
      throw e;
    });
  }
  log(
    `running as ClusterAgent ${creds.namespace}/${creds.clusterAgent} of tenant ${creds.tenant} ` +
      `over ${o.channels.join(' and ')}`,
  );
  schedule();
  return {
    ended,
    credentials: () => creds,
    grpc: () => channel,
    renew: () => renewSafely(),
    stop: async () => {
      const n = nats;
      finish(undefined);
      await Promise.all([n?.stop(), renewing]);
    },
  };
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
