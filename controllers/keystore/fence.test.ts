// A writer whose cache lags behind a root rotation (another shard's replica, a stalled process) against
// the retirement loop deleting the root version that writer still takes for active: nothing it writes
// may end up wrapped only by a deleted version.
import assert from 'node:assert/strict';
import { Gauge, Registry } from 'prom-client';
import { binding, BindingPurpose } from '../crypto/index.ts';
import { RootKeyring } from '../installation/keyring.ts';
import { rotateRootKey } from '../installation/rotation.ts';
import { ROOT_RETIRING_ANNOTATION } from '../installation/rootversion.ts';
import { FakeClock } from '../runtime/clock.ts';
import type { Secret } from '../runtime/kube/types.ts';
import { FakeCache } from '../runtime/testing/cache.ts';
import {
  accountSeedSlot,
  EntryKind,
  IndexKey,
  keystoreLabels,
  keystoreSecret,
  ROOT_KEY_VERSION_LABEL,
  SLOT_LABEL,
  wrappedByRootVersion,
} from './entries.ts';
import { rootKeyRetirement } from './retire.ts';
import { Keystore, WRAPPED_DATA_KEY } from './store.ts';
import {
  fakeInstallation,
  MANAGED_SELECTOR,
  OPERATOR_NAMESPACE,
  type FakeInstallation,
} from './testing/installation.ts';

const GRACE_MS = 30_000;
const UID = 'f00dfacef00d';
const seedBinding = binding(BindingPurpose.NatsAccountSeed, { tenantUID: UID });
const SEED = new TextEncoder().encode('testdata: not a real account seed');

/** A second Keystore over its own Secret cache, which sees nothing new until its `flush()`. */
async function laggingWriter(w: FakeInstallation): Promise<{ writer: Keystore; flush: () => void }> {
  const secrets = new FakeCache<Secret>(w.server, {
    kind: 'Secret',
    namespace: OPERATOR_NAMESPACE,
    labelSelector: MANAGED_SELECTOR,
    hold: true,
  });
  const rootKeys = new RootKeyring(secrets, OPERATOR_NAMESPACE);
  const writer = new Keystore({
    client: w.client,
    secrets,
    namespace: OPERATOR_NAMESPACE,
    rootKeys,
    rand: w.env.rand,
  });
  await secrets.start();
  return { writer, flush: () => secrets.flush() };
}

const rotate = async (w: FakeInstallation) => {
  await rotateRootKey({ client: w.client, namespace: OPERATOR_NAMESPACE, rand: w.env.rand, audit: w.audit });
  await w.tick();
};

const accountEntry = (ks: Keystore) =>
  ks.createWrapped(SEED, seedBinding, ({ wrapped, rootVersion }) =>
    keystoreSecret({
      name: accountSeedSlot(UID),
      namespace: OPERATOR_NAMESPACE,
      labels: keystoreLabels(EntryKind.NatsAccount, UID, {
        [ROOT_KEY_VERSION_LABEL]: String(rootVersion),
        [SLOT_LABEL]: accountSeedSlot(UID),
      }),
      data: { [WRAPPED_DATA_KEY]: wrapped },
      immutable: true,
    }),
  );

/** Every wrap of the account slot on the server, by root version. */
async function wrapsOnServer(w: FakeInstallation): Promise<Secret[]> {
  const list = await w.client.list<Secret>('Secret', {
    namespace: OPERATOR_NAMESPACE,
    labelSelector: `${SLOT_LABEL}=${accountSeedSlot(UID)}`,
  });
  return list.items.sort((a, b) => wrappedByRootVersion(a) - wrappedByRootVersion(b));
}

const rootNames = async (w: FakeInstallation) =>
  (
    await w.client.list<Secret>('Secret', {
      namespace: OPERATOR_NAMESPACE,
      labelSelector: 'palisade.dev/component=root-key',
    })
  ).items
    .map((s) => s.metadata.name)
    .sort();

describe('keystore writes against root retirement (a writer whose cache lags)', () => {
  it('loses nothing when the retirement list misses a write made under the version it then deletes', async () => {
    const w = await fakeInstallation();
    const { writer } = await laggingWriter(w);
    await rotate(w);
    assert.equal(writer.rootKeys.active().version, 1, 'the writer has not seen root version 2');

    const clock = new FakeClock(1_000_000);
    // The retirement loop's live list of what version 1 wraps returns, and only then the writer writes:
    // the list has missed the write, and the delete comes after it.
    let written: Secret | undefined;
    const client = Object.create(w.client) as typeof w.client;
    client.list = (async (kind: string, opts?: { labelSelector?: string }) => {
      const result = await w.client.list(kind, opts);
      if (opts?.labelSelector?.includes(`${ROOT_KEY_VERSION_LABEL}=1`) && !written)
        written = (await accountEntry(writer)).secret;
      return result;
    }) as typeof client.list;
    const retirement = rootKeyRetirement({
      secrets: w.secrets,
      namespace: OPERATOR_NAMESPACE,
      rootKeys: w.keystore.rootKeys,
      client,
      clock,
      events: w.events,
      audit: w.audit,
      pending: new Gauge({
        name: 'pending',
        help: 'test',
        labelNames: ['root_version'],
        registers: [new Registry()],
      }),
      graceMs: GRACE_MS,
    });
    retirement.watch.register(() => undefined);
    const v1 = `${OPERATOR_NAMESPACE}/palisade-root-key-v1`;
    assert.ok(retirement.resyncKeys().includes(v1));
    assert.deepEqual(await retirement.reconcile(v1), { requeueAfterMs: GRACE_MS });
    clock.advance(GRACE_MS);
    await retirement.reconcile(v1);

    assert.ok(written, 'the writer wrote during the retirement');
    assert.deepEqual(await rootNames(w), ['palisade-root-key-v2'], 'root version 1 was retired');
    const wraps = await wrapsOnServer(w);
    assert.deepEqual(
      wraps.map((s) => [s.metadata.name, wrappedByRootVersion(s)]),
      [
        [accountSeedSlot(UID), 1],
        [`${accountSeedSlot(UID)}-r2`, 2],
      ],
      'the writer found version 1 retiring and wrapped again under version 2',
    );
    assert.equal(written.metadata.name, `${accountSeedSlot(UID)}-r2`, 'the writer goes on with the new wrap');
    w.flush();
    assert.deepEqual(Buffer.from(w.keystore.unwrap(wraps[1] as Secret, seedBinding)), Buffer.from(SEED));
  });

  it('writes once, with one extra read, when the version it wraps under is not retiring', async () => {
    const w = await fakeInstallation();
    let gets = 0;
    const get = w.client.get.bind(w.client);
    w.client.get = ((ref) => {
      gets++;
      return get(ref);
    }) as typeof w.client.get;
    const made = await accountEntry(w.keystore);
    assert.equal(made.created, true);
    assert.equal(made.secret.metadata.name, accountSeedSlot(UID));
    assert.equal(gets, 1, 'one live read of the root version that wraps it');
    assert.deepEqual(
      (await wrapsOnServer(w)).map((s) => s.metadata.name),
      [accountSeedSlot(UID)],
    );
  });

  it('a lagging rewrap moves past a version marked retiring to the newest, and leaves one wrap', async () => {
    const w = await fakeInstallation();
    await accountEntry(w.keystore);
    const { writer, flush } = await laggingWriter(w);
    await rotate(w);
    flush();
    assert.equal(writer.rootKeys.active().version, 2);
    await rotate(w);
    await w.client.jsonPatch(
      { kind: 'Secret', name: 'palisade-root-key-v2', namespace: OPERATOR_NAMESPACE },
      [
        {
          op: 'add',
          path: `/metadata/annotations/${ROOT_RETIRING_ANNOTATION.replace('/', '~1')}`,
          value: 'now',
        },
      ],
    );
    // The writer's cache knows versions 1 and 2 only; the server has 3, and 2 is retiring.
    const slot = accountSeedSlot(UID);
    const cached = writer.find(IndexKey.account(UID)).filter((s) => s.metadata.labels?.[SLOT_LABEL] === slot);
    assert.deepEqual(cached.map(wrappedByRootVersion), [1]);
    const writes = await writer.rewrapSlot(slot, cached);
    const wraps = await wrapsOnServer(w);
    assert.deepEqual(
      wraps.map((s) => [s.metadata.name, wrappedByRootVersion(s)]),
      [[`${slot}-r3`, 3]],
      'only the wrap under the newest version is left',
    );
    assert.equal(writes, 4, 'two wraps made, the old one and the one under version 2 deleted');
    w.flush();
    assert.deepEqual(Buffer.from(w.keystore.unwrap(wraps[0] as Secret, seedBinding)), Buffer.from(SEED));
  });
});
