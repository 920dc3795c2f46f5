/**
 * The JWTs of Palisade's NATS operator model, as pure builders:
 *
 *   operator  (Palisade's operator nkey)         signs every account, names the system account
 *   ├─ system account                            resolver requests ($SYS.REQ.CLAIMS.UPDATE, ...)
 *   ├─ Palisade's account                        exports report services + a command stream
 *   └─ one account per tenant                    imports only its own UID's slice of both
 *       └─ one user per ClusterAgent             may publish its reports, receive its commands
 *
 * NB: `@nats-io/jwt`'s `encodeAccount` leaves every limit at 0, and nats-server reads 0 as "none
 * allowed" (the account refuses every connection). Every limit here is set explicitly; -1 = unlimited.
 */
import { encodeJwt } from './jwt.ts';
import type { NKeyPair } from './nkeys.ts';
import {
  agentPermissions,
  COMMAND_EXPORT_SUBJECT,
  commandImportSubject,
  REPORT_KINDS,
  reportExportSubject,
  reportImportSubject,
} from './subjects.ts';

/** Limits of a tenant's account (from `Tenant.spec.messaging`); -1 = unlimited. */
export interface AccountLimits {
  maxConnections: number;
  maxSubscriptions: number;
  maxPayloadBytes: number;
  maxDataBytes: number;
}

/** JetStream off, leaf nodes off, bearer tokens refused; everything else as given. */
function limitsClaim(l: AccountLimits, imports: number, exports: number) {
  return {
    conn: l.maxConnections,
    subs: l.maxSubscriptions,
    payload: l.maxPayloadBytes,
    data: l.maxDataBytes,
    imports,
    exports,
    wildcards: true,
    leaf: 0,
    disallow_bearer: true,
    mem_storage: 0,
    disk_storage: 0,
    streams: 0,
    consumer: 0,
    mem_max_stream_bytes: 0,
    disk_max_stream_bytes: 0,
    max_bytes_required: false,
    max_ack_pending: 0,
  };
}

const UNLIMITED: AccountLimits = {
  maxConnections: -1,
  maxSubscriptions: -1,
  maxPayloadBytes: -1,
  maxDataBytes: -1,
};

export function operatorJwt(operator: NKeyPair, systemAccount: string, issuedAt: number): string {
  return encodeJwt(
    {
      name: 'palisade',
      subject: operator.publicKey,
      issuedAt,
      type: 'operator',
      nats: { system_account: systemAccount },
    },
    operator,
  );
}

export function systemAccountJwt(operator: NKeyPair, account: string, issuedAt: number): string {
  return encodeJwt(
    {
      name: 'SYS',
      subject: account,
      issuedAt,
      type: 'account',
      nats: { limits: limitsClaim(UNLIMITED, -1, -1) },
    },
    operator,
  );
}

/** Palisade's account: a service per report kind, and the command stream, for every tenant to import. */
export function palisadeAccountJwt(operator: NKeyPair, account: string, issuedAt: number): string {
  const exports = [
    ...REPORT_KINDS.map((kind) => ({
      name: `agent-${kind}`,
      subject: reportExportSubject(kind),
      type: 'service',
      response_type: 'Singleton',
    })),
    { name: 'agent-commands', subject: COMMAND_EXPORT_SUBJECT, type: 'stream' },
  ];
  return encodeJwt(
    {
      name: 'palisade',
      subject: account,
      issuedAt,
      type: 'account',
      nats: { exports, limits: limitsClaim(UNLIMITED, -1, -1) },
    },
    operator,
  );
}

/** Who is revoked: user public key → unix seconds (JWTs issued at or before it are refused). */
export type Revocations = Record<string, number>;

export interface TenantAccountInput {
  tenantUID: string;
  tenantName: string;
  account: string;
  palisadeAccount: string;
  limits: AccountLimits;
  revocations: Revocations;
}

/** The `nats` claim of a tenant account (without type and version): compared to decide whether to push. */
export function tenantAccountClaim(i: TenantAccountInput) {
  const imports = [
    ...REPORT_KINDS.map((kind) => ({
      name: `agent-${kind}`,
      subject: reportImportSubject(i.tenantUID, kind),
      account: i.palisadeAccount,
      type: 'service',
    })),
    {
      name: 'agent-commands',
      subject: commandImportSubject(i.tenantUID),
      account: i.palisadeAccount,
      type: 'stream',
    },
  ];
  const revocations = Object.fromEntries(
    Object.entries(i.revocations).sort(([a], [b]) => a.localeCompare(b)),
  );
  return {
    imports,
    limits: limitsClaim(i.limits, imports.length, 0),
    ...(Object.keys(revocations).length ? { revocations } : {}),
  };
}

export function tenantAccountJwt(operator: NKeyPair, i: TenantAccountInput, issuedAt: number): string {
  const nats = tenantAccountClaim(i);
  return encodeJwt(
    { name: `tenant-${i.tenantUID}`, subject: i.account, issuedAt, type: 'account', nats },
    operator,
  );
}

export interface AgentUserInput {
  tenantUID: string;
  agent: string;
  user: string;
  issuedAt: number;
  expiresAt?: number;
}

/** A ClusterAgent's user JWT, signed by its tenant's account key: its own subjects and nothing else. */
export function agentUserJwt(account: NKeyPair, i: AgentUserInput): string {
  const perms = agentPermissions(i.tenantUID, i.agent);
  return encodeJwt(
    {
      name: i.agent,
      subject: i.user,
      issuedAt: i.issuedAt,
      ...(i.expiresAt !== undefined ? { expiresAt: i.expiresAt } : {}),
      type: 'user',
      nats: { ...userClaims(perms), allowed_connection_types: ['STANDARD'] },
    },
    account,
  );
}

/** A user's permissions with every limit explicit (-1: the account's limits apply). */
function userClaims(perms: { pub: string[]; sub: string[] }) {
  return {
    pub: { allow: perms.pub },
    sub: { allow: perms.sub },
    subs: -1,
    data: -1,
    payload: -1,
    bearer_token: false,
  };
}

/** A user of one of Palisade's own accounts (system, Palisade), with the given permissions. */
export function serviceUserJwt(
  account: NKeyPair,
  user: string,
  name: string,
  issuedAt: number,
  perms: { pub: string[]; sub: string[] },
): string {
  return encodeJwt(
    {
      name,
      subject: user,
      issuedAt,
      type: 'user',
      nats: userClaims(perms),
    },
    account,
  );
}

/** The body of `$SYS.REQ.CLAIMS.DELETE`: a generic JWT the operator signs about itself. */
export function deleteAccountsRequest(operator: NKeyPair, accounts: string[], issuedAt: number): string {
  return encodeJwt(
    { name: 'delete', subject: operator.publicKey, issuedAt, type: 'generic', nats: { accounts } },
    operator,
  );
}

/** The standard `.creds` file: the user JWT and the user's seed, as `nsc` and every client expect. */
export function formatCreds(userJwt: string, userSeed: string): string {
  return `-----BEGIN NATS USER JWT-----
${userJwt}
------END NATS USER JWT------

************************* IMPORTANT *************************
NKEY Seed printed below can be used to sign and prove identity.
NKEYs are sensitive and should be treated as secrets.

-----BEGIN USER NKEY SEED-----
${userSeed}
------END USER NKEY SEED------
`;
}
