import assert from 'node:assert/strict';
import type { Tenant } from '../../crds/v1alpha1/index.ts';
import {
  allowedBy,
  claimOf,
  judgeName,
  kindOf,
  namedNamespaces,
  refusalMessage,
  refusedNames,
  tenantNamespaceOf,
  type NamePolicy,
} from './namepolicy.ts';

const OPERATOR = 'palisade-system';
const TENANTS: Record<string, { tenant: string; allowedDNSNames: string[] }> = {
  'tenant-acme': {
    tenant: 'acme',
    allowedDNSNames: ['*.acme.example.com', 'portal.acme.io', '*.tenant-globex'],
  },
  'tenant-globex': { tenant: 'globex', allowedDNSNames: [] },
};

function policy(namespace: string, owner?: NamePolicy['owner']): NamePolicy {
  return {
    namespace,
    operatorNamespace: OPERATOR,
    owner: owner ?? TENANTS[namespace],
    tenantOf: (ns) => TENANTS[ns]?.tenant,
  };
}

type Case = [sentence: string, namespace: string, name: string, want: true | RegExp];

const cases: Case[] = [
  // A tenant's own namespace.
  ['allows a tenant the short service form <svc>.<ns>', 'tenant-acme', 'events.tenant-acme', true],
  ['allows a tenant <svc>.<ns>.svc', 'tenant-acme', 'events.tenant-acme.svc', true],
  [
    'allows a tenant <svc>.<ns>.svc.cluster.local',
    'tenant-acme',
    'events.tenant-acme.svc.cluster.local',
    true,
  ],
  ['allows a tenant a wildcard over its own services', 'tenant-acme', '*.tenant-acme.svc', true],
  [
    'allows a tenant a StatefulSet pod name in its namespace',
    'tenant-acme',
    'nats-0.nats.tenant-acme.svc.cluster.local',
    true,
  ],
  // The Tenant's allow list.
  ['allows a name one label below an allowed wildcard', 'tenant-acme', 'api.acme.example.com', true],
  ['allows a name several labels below an allowed wildcard', 'tenant-acme', 'a.b.acme.example.com', true],
  ['allows a wildcard request below an allowed wildcard', 'tenant-acme', '*.acme.example.com', true],
  ['allows an exactly listed name', 'tenant-acme', 'portal.acme.io', true],
  [
    'does not let a wildcard entry cover its own domain',
    'tenant-acme',
    'acme.example.com',
    /Tenant acme's spec.certificates.allowedDNSNames does not allow it/,
  ],
  [
    'refuses a name outside the allow list, naming the Tenant and the field',
    'tenant-globex',
    'portal.globex.example.com',
    /"portal.globex.example.com" is not a service name of namespace tenant-globex, and Tenant globex's spec.certificates.allowedDNSNames/,
  ],
  // Names no tenant gets.
  [
    'refuses kubernetes.default.svc to a tenant',
    'tenant-acme',
    'kubernetes.default.svc',
    /Kubernetes API server/,
  ],
  ['refuses kubernetes.default', 'tenant-acme', 'kubernetes.default', /Kubernetes API server/],
  [
    'refuses kubernetes.default.svc.cluster.local',
    'tenant-acme',
    'kubernetes.default.svc.cluster.local',
    /API server/,
  ],
  ['refuses the bare name kubernetes', 'tenant-acme', 'kubernetes', /Kubernetes API server/],
  ['refuses a wildcard over the default namespace', 'tenant-acme', '*.default.svc', /Kubernetes API server/],
  [
    "refuses Palisade's NATS service name to a tenant",
    'tenant-acme',
    'palisade-nats.palisade-system.svc',
    /service name in Palisade's namespace palisade-system/,
  ],
  [
    "refuses Palisade's operator service in the short form",
    'tenant-acme',
    'palisade-operator.palisade-system',
    /Palisade's namespace/,
  ],
  [
    "refuses a wildcard over Palisade's namespace",
    'tenant-acme',
    '*.palisade-system.svc.cluster.local',
    /Palisade's namespace/,
  ],
  [
    "refuses another tenant's service name",
    'tenant-acme',
    'events.tenant-globex.svc',
    /namespace tenant-globex, which belongs to Tenant globex/,
  ],
  [
    "refuses another tenant's service name even when the allow list covers it",
    'tenant-acme',
    'db.tenant-globex',
    /which belongs to Tenant globex/,
  ],
  ['refuses a single-label name', 'tenant-acme', 'events', /single-label name.*events.tenant-acme.svc/],
  ['refuses localhost to a tenant', 'tenant-acme', 'localhost', /single-label/],
  [
    'refuses a service name of a namespace no Tenant owns',
    'tenant-acme',
    'events.team-x.svc',
    /service name of namespace team-x, not of tenant-acme/,
  ],
  [
    'refuses a cluster-domain name that is not a service name',
    'tenant-acme',
    '10-0-0-1.tenant-acme.pod.cluster.local',
    /under the cluster domain cluster.local/,
  ],
  // Namespaces no Tenant owns.
  ['allows a namespace without a Tenant its own service names', 'team-x', 'events.team-x.svc', true],
  [
    'refuses a namespace without a Tenant any other name',
    'team-x',
    'portal.acme.example.com',
    /namespace team-x belongs to no Tenant, so bindings there get only its own service names/,
  ],
  [
    "refuses a namespace without a Tenant a tenant's service name",
    'team-x',
    'events.tenant-acme.svc',
    /belongs to Tenant acme/,
  ],
  ['refuses the default namespace the API server name', 'default', 'kubernetes.default.svc', /API server/],
  ['allows the default namespace its other service names', 'default', 'web.default.svc', true],
  // Palisade's own namespace.
  ["allows Palisade's namespace its NATS service name", OPERATOR, 'palisade-nats.palisade-system.svc', true],
  ["allows Palisade's namespace the API server name", OPERATOR, 'kubernetes.default.svc', true],
  ["allows Palisade's namespace localhost", OPERATOR, 'localhost', true],
];

describe('the internal CA name policy', () => {
  for (const [sentence, namespace, name, want] of cases) {
    it(sentence, () => {
      const v = judgeName(name, policy(namespace));
      if (want === true) assert.deepEqual(v, { allowed: true });
      else {
        assert.equal(v.allowed, false, `${name} must be refused in ${namespace}`);
        assert.match((v as { why: string }).why, want);
        assert.ok((v as { why: string }).why.startsWith(`"${name}"`), 'the message names the refused name');
      }
    });
  }

  it('ignores the allow list of a namespace several Tenants claim', () => {
    const p = policy('tenant-acme', 'contested');
    assert.deepEqual(judgeName('events.tenant-acme.svc', p), { allowed: true });
    const v = judgeName('api.acme.example.com', p);
    assert.equal(v.allowed, false);
    assert.match((v as { why: string }).why, /several Tenants claim namespace tenant-acme/);
  });

  it('lists only the refused names, in order, and says how many more there are', () => {
    const names = ['a.tenant-acme.svc', 'kubernetes', 'x.palisade-system', 'y.tenant-globex', 'z.other', 'w'];
    const refused = refusedNames(names, policy('tenant-acme'));
    assert.deepEqual(
      refused.map((r) => r.name),
      ['kubernetes', 'x.palisade-system', 'y.tenant-globex', 'z.other', 'w'],
    );
    const message = refusalMessage(refused);
    assert.match(message, /"kubernetes".*"x.palisade-system".*"y.tenant-globex"/);
    assert.match(message, /and 2 more name\(s\)$/);
  });
});

describe('reading names', () => {
  const kinds: [string, string, ReturnType<typeof kindOf>][] = [
    ['reads <svc>.<ns> as a service of <ns>', 'a.b', { kind: 'service', namespace: 'b', first: 'a' }],
    ['reads <svc>.<ns>.svc as a service of <ns>', 'a.b.svc', { kind: 'service', namespace: 'b', first: 'a' }],
    [
      'reads <pod>.<svc>.<ns>.svc.cluster.local as in <ns>',
      'p.a.b.svc.cluster.local',
      { kind: 'service', namespace: 'b', first: 'p' },
    ],
    ['reads a single label as single', 'localhost', { kind: 'single' }],
    ['reads other cluster-domain names as cluster', 'x.pod.cluster.local', { kind: 'cluster' }],
    ['reads three or more labels outside the cluster as external', 'a.example.com', { kind: 'external' }],
  ];
  for (const [sentence, name, want] of kinds) it(sentence, () => assert.deepEqual(kindOf(name), want));

  it('finds the namespaces a list of names asks for', () => {
    assert.deepEqual(namedNamespaces(['a.x.svc', 'b.x', 'c.y.svc.cluster.local', 'd.example.com']), [
      'x',
      'y',
    ]);
  });

  it('lets "*.<domain>" cover names below <domain> only', () => {
    assert.equal(allowedBy('*.example.com', 'a.example.com'), true);
    assert.equal(allowedBy('*.example.com', 'a.b.example.com'), true);
    assert.equal(allowedBy('*.example.com', 'example.com'), false);
    assert.equal(allowedBy('*.example.com', 'badexample.com'), false);
    assert.equal(allowedBy('a.example.com', 'b.example.com'), false);
  });
});

describe('which Tenant owns a namespace', () => {
  const tenant = (name: string, spec: Partial<Tenant['spec']> = {}, statusNs?: string): Tenant =>
    ({
      apiVersion: 'palisade.dev/v1alpha1',
      kind: 'Tenant',
      metadata: { name },
      spec,
      ...(statusNs ? { status: { namespace: statusNs } } : {}),
    }) as Tenant;

  it("takes a Tenant's namespace from its status, then its spec, then tenant-<name>", () => {
    assert.equal(tenantNamespaceOf(tenant('a', { namespace: 'x' }, 'y')), 'y');
    assert.equal(tenantNamespaceOf(tenant('a', { namespace: 'x' })), 'x');
    assert.equal(tenantNamespaceOf(tenant('a')), 'tenant-a');
  });

  it('gives the only claimant its allow list', () => {
    assert.deepEqual(
      claimOf('tenant-a', [tenant('a', { certificates: { allowedDNSNames: ['x.example.com'] } })]),
      {
        tenant: 'a',
        allowedDNSNames: ['x.example.com'],
      },
    );
  });

  it('prefers the claimant whose status confirms the namespace, and calls a tie contested', () => {
    assert.equal(
      (claimOf('ns', [tenant('a', { namespace: 'ns' }), tenant('b', {}, 'ns')]) as { tenant: string }).tenant,
      'b',
    );
    assert.equal(
      claimOf('ns', [tenant('a', { namespace: 'ns' }), tenant('b', { namespace: 'ns' })]),
      'contested',
    );
    assert.equal(claimOf('ns', []), undefined);
  });
});
