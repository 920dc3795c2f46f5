import assert from 'node:assert/strict';
import type { IssuerRef } from '../../crds/v1alpha1/index.ts';
import {
  currentRequest,
  requestConcern,
  REVISION_ANNOTATION,
  type CMCertificateRequest,
} from './certificaterequests.ts';

type Cond = { type: string; status: 'True' | 'False' | 'Unknown'; reason?: string; message?: string };

function request(
  name: string,
  o: { owner?: string; revision?: number; created?: string; conditions?: Cond[] },
) {
  return {
    apiVersion: 'cert-manager.io/v1',
    kind: 'CertificateRequest',
    metadata: {
      name,
      namespace: 'certs',
      creationTimestamp: o.created ?? '2025-01-01T00:00:00Z',
      annotations: o.revision === undefined ? {} : { [REVISION_ANNOTATION]: String(o.revision) },
      ownerReferences: [
        { apiVersion: 'cert-manager.io/v1', kind: 'Certificate', name: 'portal', uid: o.owner ?? 'cert-1' },
      ],
    },
    status: { conditions: o.conditions ?? [] },
  } as CMCertificateRequest;
}

const approved: Cond = { type: 'Approved', status: 'True', reason: 'cert-manager.io', message: 'approved' };
// The messages cert-manager v1.11.5 writes (pkg/controller/certificaterequests/sync.go, util/reporter.go).
const pending = (message: string): Cond => ({ type: 'Ready', status: 'False', reason: 'Pending', message });
const clusterIssuer: IssuerRef = {
  name: 'letsencrypt-prod',
  kind: 'ClusterIssuer',
  group: 'cert-manager.io',
};
const issuer: IssuerRef = { name: 'ca', kind: 'Issuer', group: 'cert-manager.io' };

describe('currentRequest', () => {
  it("picks the highest revision of the Certificate's own requests", () => {
    const picked = currentRequest(
      [
        request('portal-a', { revision: 1 }),
        request('portal-b', { revision: 2 }),
        request('portal-c', { revision: 7, owner: 'an-earlier-certificate' }),
      ],
      'cert-1',
    );
    assert.equal(picked?.metadata.name, 'portal-b');
  });

  it('is undefined without requests of that Certificate', () => {
    assert.equal(currentRequest([request('portal-a', { owner: 'other' })], 'cert-1'), undefined);
    assert.equal(currentRequest([request('portal-a', {})], undefined), undefined);
  });
});

describe('requestConcern', () => {
  it('sets IssuerNotFound naming the missing ClusterIssuer and quoting cert-manager', () => {
    const said =
      'Referenced "ClusterIssuer" not found: clusterissuer.cert-manager.io "letsencrypt-prod" not found';
    const c = requestConcern(
      request('portal-x7k2p', { conditions: [approved, pending(said)] }),
      clusterIssuer,
      'certs',
    );
    assert.equal(c?.reason, 'IssuerNotFound');
    assert.equal(c?.status, 'False');
    assert.match(
      c?.message ?? '',
      /^ClusterIssuer letsencrypt-prod does not exist: create it, or point spec\.certManager\.issuerRef/,
    );
    assert.ok(c?.message.includes(`CertificateRequest portal-x7k2p: ${said}`), c?.message);
  });

  it('names a namespaced Issuer with its namespace', () => {
    const said = 'Referenced "Issuer" not found: issuer.cert-manager.io "ca" not found';
    const c = requestConcern(request('r', { conditions: [approved, pending(said)] }), issuer, 'certs');
    assert.equal(c?.reason, 'IssuerNotFound');
    assert.match(c?.message ?? '', /^Issuer certs\/ca does not exist/);
  });

  it('sets IssuerNotReady with the command that shows why', () => {
    const c = requestConcern(
      request('r', {
        conditions: [approved, pending('Referenced issuer does not have a Ready status condition')],
      }),
      issuer,
      'certs',
    );
    assert.equal(c?.reason, 'IssuerNotReady');
    assert.match(
      c?.message ?? '',
      /Issuer certs\/ca exists but is not Ready: see why with kubectl describe issuer ca -n certs/,
    );
  });

  it('quotes any other Pending reason as cert-manager wrote it', () => {
    const c = requestConcern(
      request('r', {
        conditions: [approved, pending('Waiting on certificate issuance from order certs/r-1: "pending"')],
      }),
      issuer,
      'certs',
    );
    assert.equal(c?.reason, 'Pending');
    assert.match(
      c?.message ?? '',
      /^waiting for cert-manager's CertificateRequest r: Waiting on certificate issuance/,
    );
  });

  it('says a request nobody approved waits for approval', () => {
    const c = requestConcern(request('r', {}), issuer, 'certs');
    assert.equal(c?.reason, 'Pending');
    assert.match(c?.message ?? '', /to be approved/);
  });

  it('leaves failed, denied and issued requests, and no request, to the Certificate', () => {
    const failed: Cond = { type: 'Ready', status: 'False', reason: 'Failed', message: 'boom' };
    const denied: Cond = { type: 'Denied', status: 'True', reason: 'policy', message: 'no' };
    const issued: Cond = { type: 'Ready', status: 'True', reason: 'Issued', message: 'ok' };
    for (const conditions of [[approved, failed], [denied], [approved, issued], [approved]])
      assert.equal(requestConcern(request('r', { conditions }), issuer, 'certs'), undefined);
    assert.equal(requestConcern(undefined, issuer, 'certs'), undefined);
  });
});
