/**
 * The pure decision at the heart of "a key is never lost": given the installation record and the keys
 * present, is this a fresh install (make keys), an installation from before records existed (record
 * what is there), an intact one, or one that lost a key (make nothing, report it)?
 *
 * A root key version is needed while it is the newest version known, or while a wrapped keystore entry
 * in the operator's namespace still carries its `palisade.dev/root-key-version` label; a recorded
 * version that is neither was retired (controllers/installation/retire.ts deletes exactly those).
 */
import type { InstallationRecord, KeyFact } from './record.ts';
import { Component } from './secrets.ts';

/** What is in the operator's namespace. A key whose bytes cannot be read has `keyId: ''`. */
export interface Observed {
  record?: InstallationRecord;
  /** Set when the record ConfigMap exists but cannot be read. */
  recordDamaged?: string;
  rootKeys: KeyFact[];
  jwtSigningKeys: KeyFact[];
  hashSalt?: { fingerprint: string };
  /** Hash salt versions from rotations (2 and up), keyId = fingerprint. */
  hashSalts?: KeyFact[];
  /** Root versions absent from the namespace that wrapped keystore entries still carry → how many. */
  wrappedByAbsent: ReadonlyMap<number, number>;
}

export type ProblemComponent = Component | 'installation-record';

export interface Problem {
  component: ProblemComponent;
  version?: number;
  /** `Missing`: recorded or needed, absent; `Mismatch`: present, not the recorded key; `Unreadable`. */
  kind: 'Missing' | 'Mismatch' | 'Unreadable';
  message: string;
}

export type Verdict =
  | { kind: 'fresh' }
  | { kind: 'upgrade'; mint: Component[] }
  | { kind: 'intact'; mint: Component[] }
  | { kind: 'lost'; problems: Problem[] };

const rootName = (v: number) => `palisade-root-key-v${v}`;
const jwtName = (v: number) => `palisade-jwt-signing-key-v${v}`;

export function assessInstallation(o: Observed): Verdict {
  if (o.recordDamaged !== undefined)
    return {
      kind: 'lost',
      problems: [
        {
          component: 'installation-record',
          kind: 'Unreadable',
          message: `the installation record (ConfigMap palisade-installation) cannot be read: ${o.recordDamaged}`,
        },
      ],
    };
  const problems = [...unreadable(o), ...unheldWraps(o)];
  if (!o.record) {
    if (o.rootKeys.length === 0) {
      if (problems.length) return { kind: 'lost', problems };
      const others = [
        ...o.jwtSigningKeys.map((k) => jwtName(k.version)),
        ...(o.hashSalt ? ['palisade-hash-salt'] : []),
      ];
      if (others.length === 0) return { kind: 'fresh' };
      return {
        kind: 'lost',
        problems: [
          {
            component: Component.RootKey,
            kind: 'Missing',
            message: `no root key and no installation record, but ${others.join(', ')} exist: this is not a fresh install, its root key is gone`,
          },
        ],
      };
    }
    return problems.length ? { kind: 'lost', problems } : { kind: 'upgrade', mint: unrecordedToMint(o) };
  }
  problems.push(
    ...rootProblems(o, o.record),
    ...jwtProblems(o, o.record),
    ...saltProblems(o, o.record),
    ...saltVersionProblems(o, o.record),
  );
  if (problems.length === 0 && o.rootKeys.length === 0)
    problems.push({
      component: Component.RootKey,
      kind: 'Missing',
      message:
        'the installation record exists but lists no root key version and none is present: a new one is never made over an existing installation',
    });
  return problems.length ? { kind: 'lost', problems } : { kind: 'intact', mint: unrecordedToMint(o) };
}

function unreadable(o: Observed): Problem[] {
  return [
    ...o.rootKeys
      .filter((k) => !k.keyId)
      .map((k) => ({
        component: Component.RootKey,
        version: k.version,
        kind: 'Unreadable' as const,
        message: `${rootName(k.version)} does not hold a readable 256-bit key`,
      })),
    ...o.jwtSigningKeys
      .filter((k) => !k.keyId)
      .map((k) => ({
        component: Component.JwtSigningKey,
        version: k.version,
        kind: 'Unreadable' as const,
        message: `${jwtName(k.version)} does not hold a readable Ed25519 key`,
      })),
    ...(o.hashSalt && !o.hashSalt.fingerprint
      ? [
          {
            component: Component.HashSalt,
            kind: 'Unreadable' as const,
            message: 'palisade-hash-salt does not hold a readable 256-bit salt',
          },
        ]
      : []),
  ];
}

/** Wrapped entries under a root version that is absent and not (or, without a record, never) recorded. */
function unheldWraps(o: Observed): Problem[] {
  return [...o.wrappedByAbsent]
    .filter(([v]) => !o.record?.rootKeys.some((k) => k.version === v))
    .map(([v, n]) => ({
      component: Component.RootKey,
      version: v,
      kind: 'Missing' as const,
      message: `${n} keystore entries are wrapped by root key version ${v}, which is neither present nor recorded`,
    }));
}

function rootProblems(o: Observed, record: InstallationRecord): Problem[] {
  const newest = Math.max(0, ...record.rootKeys.map((k) => k.version), ...o.rootKeys.map((k) => k.version));
  const out: Problem[] = [];
  for (const r of record.rootKeys) {
    const found = o.rootKeys.find((k) => k.version === r.version);
    if (found) {
      if (found.keyId && found.keyId !== r.keyId)
        out.push({
          component: Component.RootKey,
          version: r.version,
          kind: 'Mismatch',
          message: `${rootName(r.version)} holds key ID ${found.keyId}, but this installation recorded key ID ${r.keyId} for version ${r.version}: it is not this installation's key`,
        });
      continue;
    }
    const wrapped = o.wrappedByAbsent.get(r.version) ?? 0;
    if (r.version !== newest && wrapped === 0) continue; // retired: nothing needs it any more
    out.push({
      component: Component.RootKey,
      version: r.version,
      kind: 'Missing',
      message:
        `root key version ${r.version} (key ID ${r.keyId}) is recorded but its Secret ${rootName(r.version)} is missing` +
        (wrapped ? `; ${wrapped} keystore entries are wrapped by it` : '; it is the newest root version'),
    });
  }
  return out;
}

function jwtProblems(o: Observed, record: InstallationRecord): Problem[] {
  const out: Problem[] = [];
  for (const r of record.jwtSigningKeys) {
    const found = o.jwtSigningKeys.find((k) => k.version === r.version);
    if (!found)
      out.push({
        component: Component.JwtSigningKey,
        version: r.version,
        kind: 'Missing',
        message: `JWT signing key version ${r.version} (kid ${r.keyId}) is recorded but its Secret ${jwtName(r.version)} is missing`,
      });
    else if (found.keyId && found.keyId !== r.keyId)
      out.push({
        component: Component.JwtSigningKey,
        version: r.version,
        kind: 'Mismatch',
        message: `${jwtName(r.version)} holds kid ${found.keyId}, but this installation recorded kid ${r.keyId}`,
      });
  }
  return out;
}

function saltProblems(o: Observed, record: InstallationRecord): Problem[] {
  const recorded = record.hashSalt?.fingerprint;
  if (!recorded) return [];
  if (!o.hashSalt)
    return [
      {
        component: Component.HashSalt,
        kind: 'Missing',
        message: `the hash salt (fingerprint ${recorded}) is recorded but its Secret palisade-hash-salt is missing`,
      },
    ];
  if (o.hashSalt.fingerprint && o.hashSalt.fingerprint !== recorded)
    return [
      {
        component: Component.HashSalt,
        kind: 'Mismatch',
        message: `palisade-hash-salt has fingerprint ${o.hashSalt.fingerprint}, but this installation recorded ${recorded}`,
      },
    ];
  return [];
}

function saltVersionProblems(o: Observed, record: InstallationRecord): Problem[] {
  const out: Problem[] = [];
  for (const r of record.hashSalts ?? []) {
    const found = o.hashSalts?.find((k) => k.version === r.version);
    const name = `palisade-hash-salt-v${r.version}`;
    if (!found)
      out.push({
        component: Component.HashSalt,
        version: r.version,
        kind: 'Missing',
        message: `hash salt version ${r.version} (fingerprint ${r.keyId}) is recorded but its Secret ${name} is missing`,
      });
    else if (found.keyId && found.keyId !== r.keyId)
      out.push({
        component: Component.HashSalt,
        version: r.version,
        kind: 'Mismatch',
        message: `${name} has fingerprint ${found.keyId}, but this installation recorded ${r.keyId}`,
      });
  }
  return out;
}

/** The JWT signing key and hash salt are made only while no version of them is present or recorded. */
function unrecordedToMint(o: Observed): Component[] {
  const mint: Component[] = [];
  if (o.jwtSigningKeys.length === 0 && !o.record?.jwtSigningKeys.length) mint.push(Component.JwtSigningKey);
  if (!o.hashSalt && !o.record?.hashSalt) mint.push(Component.HashSalt);
  return mint;
}

/** The recovery step, for logs, Events and readiness: restore from a backup (or repair the record). */
export function recoveryStep(problems: readonly Problem[], namespace: string): string {
  if (problems.every((p) => p.component === 'installation-record'))
    return `repair the ConfigMap ${namespace}/palisade-installation, or delete it: the operator then records the keys present again`;
  return (
    `restore the installation keys from a backup taken before the loss: palisade restore --in <backup> ` +
    `--passphrase-file <file> --namespace ${namespace}. Palisade never makes a replacement: anything wrapped ` +
    'by a lost key would stay unreadable'
  );
}
