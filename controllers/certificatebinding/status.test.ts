import assert from 'node:assert/strict';
import type { CertificateBinding } from '../../crds/v1alpha1/index.ts';
import type { CertificateFacts } from '../pki/index.ts';
import { certificateUpToDate, desiredCertificate } from './certmanager.ts';
import { bindingStatus, expiringCondition, nextTimeEdgeMs } from './status.ts';

const H = 3_600_000;
const T0 = new Date('2030-01-01T00:00:00Z');

function binding(spec: Partial<CertificateBinding['spec']> = {}): CertificateBinding {
  return {
    apiVersion: 'palisade.dev/v1alpha1',
    kind: 'CertificateBinding',
    metadata: { name: 'portal', namespace: 'ns', uid: 'uid-1', generation: 3 },
    spec: {
      secretName: 'portal-tls',
      expiryWarning: '336h',
      certManager: {
        issuerRef: { name: 'ca', kind: 'ClusterIssuer', group: 'cert-manager.io' },
        dnsNames: ['portal.example.test'],
        renewBefore: '720h',
      },
      ...spec,
    },
  };
}

const facts = (notAfter: Date): CertificateFacts => ({
  notBefore: new Date(notAfter.getTime() - 2160 * H),
  notAfter,
  serialNumber: '0A',
  fingerprintSHA256: 'AB:CD',
  dnsNames: ['portal.example.test'],
  issuer: 'CN=FAKE test CA',
  subject: '',
});

describe('CertificateBinding status', () => {
  it('sets Expiring=True from notAfter − expiryWarning on, and False before', () => {
    const f = facts(new Date(T0.getTime() + 336 * H));
    assert.equal(expiringCondition(binding(), f, new Date(T0.getTime() - 1)).status, 'False');
    const c = expiringCondition(binding(), f, T0);
    assert.equal(c.status, 'True');
    assert.equal(c.reason, 'ExpiringSoon');
    assert.equal(expiringCondition(binding(), undefined, T0).status, 'Unknown');
  });

  it('writes the facts and keeps Ready True while Expiring is True (a warning, not a failure)', () => {
    const s = bindingStatus(
      binding(),
      {
        source: 'CertManager',
        secretName: 'portal-tls',
        concern: { status: 'True', reason: 'Issued', message: 'ok' },
        facts: facts(T0),
      },
      T0,
    );
    assert.equal(s.notAfter, '2030-01-01T00:00:00Z');
    assert.equal(s.serialNumber, '0A');
    assert.equal(s.observedGeneration, 3);
    const by = Object.fromEntries((s.conditions ?? []).map((c) => [c.type, c]));
    assert.equal(by.Ready?.status, 'True');
    assert.equal(by.Ready?.reason, 'CertificateBound');
    assert.equal(by.Expiring?.status, 'True');
  });

  it('is byte-identical when re-run later with the same verdict (no status write)', () => {
    const o = {
      source: 'CertManager' as const,
      secretName: 'portal-tls',
      concern: { status: 'True' as const, reason: 'Issued', message: 'ok' },
      facts: facts(new Date(T0.getTime() + 9000 * H)),
    };
    const first = bindingStatus(binding(), o, T0);
    const again = bindingStatus({ ...binding(), status: first }, o, new Date(T0.getTime() + H));
    assert.deepEqual(again, first);
  });

  it('schedules the next reconcile when the warning window opens', () => {
    const f = facts(new Date(T0.getTime() + 400 * H));
    assert.equal(nextTimeEdgeMs(binding(), f, T0), 64 * H);
  });
});

describe('the cert-manager Certificate', () => {
  it("carries the binding's issuer, names, renewal, key settings, labels for the Secret, and an owner", () => {
    const c = desiredCertificate(binding());
    assert.equal(c.metadata.ownerReferences?.[0]?.uid, 'uid-1');
    assert.equal(c.metadata.ownerReferences?.[0]?.controller, true);
    assert.deepEqual(c.spec?.issuerRef, { name: 'ca', kind: 'ClusterIssuer', group: 'cert-manager.io' });
    assert.equal(c.spec?.secretName, 'portal-tls');
    assert.equal(c.spec?.renewBefore, '720h');
    assert.equal(c.spec?.duration, undefined);
    assert.deepEqual(c.spec?.privateKey, { algorithm: 'RSA', rotationPolicy: 'Always' });
    assert.equal(c.spec?.secretTemplate?.labels?.['app.kubernetes.io/managed-by'], 'palisade');
  });

  it('is up to date when cert-manager added fields of its own, and not when a spec field differs', () => {
    const b = binding();
    const desired = desiredCertificate(b);
    const live = {
      ...desired,
      spec: { ...desired.spec, usages: ['digital signature'] },
      status: {},
    } as typeof desired;
    assert.equal(certificateUpToDate(live, desired, b), true);
    const moved = { ...live, spec: { ...live.spec, dnsNames: ['x.example.test'] } } as typeof desired;
    assert.equal(certificateUpToDate(moved, desired, b), false);
  });
});
