/**
 * The part of the NATS service (nats/service.ts) the Tenant and ClusterAgent kinds use, in memory: an
 * installation with real nkeys (so the JWTs the kinds sign can be decoded and checked), heartbeats held
 * as the real store holds them, and a "resolver" that keeps the last claims pushed for each account.
 * Nothing connects anywhere; e2e/messaging.int.test.ts and e2e/agent.int.test.ts use the real service and
 * a real nats-server.
 */
import { isDeepStrictEqual } from 'node:util';
import type { NatsInstallation } from '../../nats/bootstrap.ts';
import { HeartbeatStore } from '../../nats/heartbeats.ts';
import { createKeyPair, type TenantAccountInput } from '../../nats/protocol/index.ts';
import type { AccountPush, NatsService } from '../../nats/service.ts';

export const FAKE_CA_PEM = '-----BEGIN CERTIFICATE-----\nfake NATS CA\n-----END CERTIFICATE-----\n';

export class FakeNats implements Pick<
  NatsService,
  'heartbeats' | 'installation' | 'ensureAccount' | 'deleteAccount' | 'trustBundle'
> {
  readonly heartbeats = new HeartbeatStore();
  readonly installation: NatsInstallation = {
    operator: createKeyPair('O'),
    system: createKeyPair('A'),
    palisade: createKeyPair('A'),
    tls: { caPem: FAKE_CA_PEM, certPem: '', keyPem: '' },
    server: {
      operatorJwt: '',
      systemAccount: '',
      systemAccountJwt: '',
      palisadeAccount: '',
      palisadeAccountJwt: '',
    },
  };
  /** The internal CA bundle published now (set by a test to stand for a CA rotation). */
  published: string | undefined;
  /** The resolver: the last claims pushed for each account public key. */
  readonly accounts = new Map<string, TenantAccountInput>();
  private readonly now: () => Date;

  constructor(now: () => Date) {
    this.now = now;
  }

  trustBundle(): string {
    return this.published ?? this.installation.tls.caPem;
  }

  async ensureAccount(input: TenantAccountInput, knownIssuedAt?: number): Promise<AccountPush> {
    const issuedAt = Math.max(Math.floor(this.now().getTime() / 1000), knownIssuedAt ?? 0);
    if (isDeepStrictEqual(this.accounts.get(input.account), input)) return { issuedAt, pushed: false };
    this.accounts.set(input.account, structuredClone(input));
    return { issuedAt, pushed: true };
  }

  async deleteAccount(account: string): Promise<void> {
    this.accounts.delete(account);
  }
}
