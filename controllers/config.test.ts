import assert from 'node:assert/strict';
import { parseConfig } from './config.ts';

describe('parseConfig', () => {
  it('prefers flags over environment over defaults', () => {
    const c = parseConfig(['--namespace=ops', '--leader-elect=false'], {
      POD_NAMESPACE: 'env-ns',
      POD_NAME: 'pod-1',
    });
    assert.equal(c.namespace, 'ops');
    assert.equal(c.leaderElection, false);
    assert.equal(c.identity, 'pod-1');
    assert.equal(c.concurrency, 8);
    assert.equal(parseConfig([], { POD_NAMESPACE: 'env-ns' }).namespace, 'env-ns');
    assert.equal(parseConfig([], {}).namespace, 'palisade-system');
  });

  it('turns messaging on from --nats-url or PALISADE_NATS_URL', () => {
    assert.deepEqual(parseConfig([], {}).natsServers, []);
    assert.deepEqual(parseConfig([], { PALISADE_NATS_URL: 'a:4222,b:4222' }).natsServers, [
      'a:4222',
      'b:4222',
    ]);
    assert.deepEqual(parseConfig(['--nats-url=c:4222'], { PALISADE_NATS_URL: 'a:4222' }).natsServers, [
      'c:4222',
    ]);
  });

  it('takes the test knobs from the environment only, positive numbers or nothing', () => {
    assert.equal(parseConfig([], {}).resyncMs, undefined);
    assert.equal(parseConfig([], { PALISADE_RESYNC_MS: '3000' }).resyncMs, 3000);
    assert.equal(parseConfig([], { PALISADE_RESYNC_MS: '0' }).resyncMs, undefined);
    assert.equal(parseConfig([], { PALISADE_ROOT_RETIRE_GRACE_MS: '1000' }).rootRetireGraceMs, 1000);
  });

  it('reconciles by default; --role=keyservice only serves, and only with a key service address', () => {
    assert.equal(parseConfig([], {}).role, 'operator');
    const c = parseConfig(['--role=keyservice', '--keyservice-address=0.0.0.0:8443'], {});
    assert.equal(c.role, 'keyservice');
    assert.equal(c.keyServiceAddress, '0.0.0.0:8443');
    assert.throws(
      () => parseConfig(['--role=keyservice'], {}),
      /--role=keyservice needs --keyservice-address/,
    );
    assert.throws(() => parseConfig(['--role=leader'], {}), /--role must be operator or keyservice/);
  });

  it("advertises the pod's IP (else the loopback) with the key service's port, unless told", () => {
    assert.equal(parseConfig([], {}).advertiseAddress, undefined);
    const listen = '--keyservice-address=0.0.0.0:8443';
    assert.equal(parseConfig([listen], {}).advertiseAddress, '127.0.0.1:8443');
    assert.equal(parseConfig([listen], { POD_IP: '10.1.2.3' }).advertiseAddress, '10.1.2.3:8443');
    assert.equal(parseConfig([listen], { POD_IP: 'fd00::7' }).advertiseAddress, '[fd00::7]:8443');
    assert.equal(
      parseConfig([listen, '--advertise-address=op-0.palisade:8443'], { POD_IP: '10.1.2.3' })
        .advertiseAddress,
      'op-0.palisade:8443',
    );
  });

  it('rejects an unknown flag or a bad value with the usage text', () => {
    assert.throws(() => parseConfig(['--nope'], {}), /Unknown option '--nope'[\s\S]*--kubeconfig/);
    assert.throws(() => parseConfig(['--leader-elect=maybe'], {}), /--leader-elect must be true or false/);
    assert.throws(() => parseConfig(['--concurrency=0'], {}), /--concurrency must be a positive integer/);
  });
});
