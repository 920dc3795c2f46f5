import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Status, Subscription, SubscriptionOptions } from '@nats-io/transport-node';
import { CredentialsRefusedError, isCredentialsRefusal, runAgent, type AgentConnection } from './agent.ts';

const WHO = { tenantUID: '0123456789ab', name: 'edge' };
const INTERVAL_MS = 5;

/** A NATS connection without a server: records publishes, replays the status events a test pushes. */
class FakeConnection implements AgentConnection {
  readonly published: string[] = [];
  drained = false;
  private open = true;
  private failPublish = false;
  private readonly events: Status[] = [];
  private wake: () => void = () => undefined;
  private settle: (e: void | Error) => void = () => undefined;
  private readonly closedPromise = new Promise<void | Error>((resolve) => (this.settle = resolve));

  publish(subject: string): void {
    if (!this.open || this.failPublish) throw new Error('closed connection');
    this.published.push(subject);
  }

  subscribe(_subject: string, _opts?: SubscriptionOptions): Subscription {
    return {} as Subscription;
  }

  status(): AsyncIterable<Status> {
    const events = this.events;
    const wait = () => new Promise<void>((resolve) => (this.wake = resolve));
    return {
      async *[Symbol.asyncIterator]() {
        for (;;) {
          const next = events.shift();
          if (next) yield next;
          else await wait();
        }
      },
    };
  }

  closed(): Promise<void | Error> {
    return this.closedPromise;
  }

  async close(): Promise<void> {
    this.closeWith(undefined);
  }

  async drain(): Promise<void> {
    this.drained = true;
    this.closeWith(undefined);
  }

  isClosed(): boolean {
    return !this.open;
  }

  /** The server sends an -ERR line. */
  serverError(message: string): void {
    this.events.push({ type: 'error', error: new Error(message) });
    this.wake();
  }

  /** nats.js gives up and closes the connection, with the error it last saw. */
  closeWith(e: Error | undefined): void {
    this.open = false;
    this.settle(e);
  }

  /** Publishing starts throwing, as on a closed connection, before closed() settles. */
  breakPublish(): void {
    this.failPublish = true;
  }
}

function agentOn(nc: FakeConnection) {
  const lines: string[] = [];
  const agent = runAgent(nc, WHO, { intervalMs: INTERVAL_MS, log: (l) => lines.push(l) });
  return { agent, lines };
}

describe('reference agent', () => {
  it('publishes its heartbeat, health and statistics on its own subjects every interval', async () => {
    const nc = new FakeConnection();
    const { agent } = agentOn(nc);
    await sleep(INTERVAL_MS * 3);
    await agent.stop();
    assert.deepEqual(nc.published.slice(0, 3), [
      'palisade.t.0123456789ab.agent.edge.heartbeat',
      'palisade.t.0123456789ab.agent.edge.health',
      'palisade.t.0123456789ab.agent.edge.stats',
    ]);
    assert.ok(nc.published.length >= 6, `published ${nc.published.length} reports`);
  });

  it('stops publishing, closes and ends with CredentialsRefusedError when the server revokes its user', async () => {
    const nc = new FakeConnection();
    const { agent, lines } = agentOn(nc);
    nc.serverError('User Authentication Revoked');
    const why = await agent.ended;
    assert.ok(why instanceof CredentialsRefusedError);
    assert.equal(why.message, 'credentials revoked or refused: User Authentication Revoked');
    assert.ok(
      lines.includes('credentials revoked or refused: User Authentication Revoked; stopped publishing'),
    );
    assert.ok(nc.isClosed(), 'the connection is closed');
    const count = nc.published.length;
    await sleep(INTERVAL_MS * 4);
    assert.equal(nc.published.length, count, 'nothing published after the refusal');
  });

  it('ends with CredentialsRefusedError when nats.js closes the connection after an authorization violation', async () => {
    const nc = new FakeConnection();
    const { agent, lines } = agentOn(nc);
    nc.closeWith(new Error('Authorization Violation'));
    const why = await agent.ended;
    assert.ok(why instanceof CredentialsRefusedError);
    assert.deepEqual(lines, ['credentials revoked or refused: Authorization Violation; stopped publishing']);
  });

  it('never throws from its timer when publishing fails on a connection that is closing', async () => {
    const nc = new FakeConnection();
    const { agent, lines } = agentOn(nc);
    nc.breakPublish();
    await sleep(INTERVAL_MS * 4);
    nc.closeWith(new Error('connection lost'));
    const why = await agent.ended;
    assert.ok(!(why instanceof CredentialsRefusedError));
    assert.equal(why?.message, 'connection lost');
    assert.deepEqual(lines, [
      'publish failed: closed connection',
      'connection closed: connection lost; stopped publishing',
    ]);
  });

  it('logs a permission violation once and keeps publishing', async () => {
    const nc = new FakeConnection();
    const { agent, lines } = agentOn(nc);
    nc.serverError('Permissions Violation for Publish to "palisade.t.x"');
    nc.serverError('Permissions Violation for Publish to "palisade.t.x"');
    await sleep(INTERVAL_MS * 3);
    const count = nc.published.length;
    await sleep(INTERVAL_MS * 3);
    assert.ok(nc.published.length > count, 'still publishing');
    await agent.stop();
    assert.deepEqual(lines, ['server error: Permissions Violation for Publish to "palisade.t.x"']);
  });

  it('ends with nothing and drains its connection when stopped', async () => {
    const nc = new FakeConnection();
    const { agent, lines } = agentOn(nc);
    await agent.stop();
    assert.equal(await agent.ended, undefined);
    assert.ok(nc.drained);
    assert.deepEqual(lines, []);
  });

  describe('what counts as refused credentials', () => {
    const cases: [string, unknown, boolean][] = [
      ['counts a revoked user', new Error('User Authentication Revoked'), true],
      ['counts an unknown user or account', new Error('Authorization Violation'), true],
      ['counts an expired user JWT', new Error('User Authentication Expired'), true],
      ['counts an expired account JWT', new Error('Account Authentication Expired'), true],
      ['does not count a permission violation', new Error('Permissions Violation for Publish to "x"'), false],
      ['does not count a lost connection', new Error('connection refused'), false],
      ['does not count something other than an Error', 'Authorization Violation', false],
    ];
    for (const [name, e, expected] of cases) {
      it(name, () => assert.equal(isCredentialsRefusal(e), expected));
    }
  });
});
