/**
 * Palisade's messaging package: NATS keys, JWTs, subjects, server config, TLS material and the one
 * connection owner. The only importer of @nats-io/* in controllers/; no Kubernetes imports.
 */
export {
  NKeyError,
  NKeyRole,
  createKeyPair,
  decodePublicKey,
  fromSeed,
  isPublicKey,
  verifySignature,
} from './nkeys.ts';
export type { NKeyPair } from './nkeys.ts';
export { JwtError, decodeJwt, encodeJwt, nextIssuedAt } from './jwt.ts';
export type { Claims } from './jwt.ts';
export {
  agentUserJwt,
  deleteAccountsRequest,
  formatCreds,
  operatorJwt,
  palisadeAccountJwt,
  serviceUserJwt,
  systemAccountJwt,
  tenantAccountClaim,
  tenantAccountJwt,
} from './accounts.ts';
export type { AccountLimits, Revocations, TenantAccountInput } from './accounts.ts';
export {
  ALL_REPORTS_SUBJECT,
  COMMAND_EXPORT_SUBJECT,
  REPORT_KINDS,
  SubjectError,
  agentCommandSubject,
  agentCommandSubjects,
  agentPermissions,
  agentReportSubject,
  parseReportSubject,
} from './subjects.ts';
export type { ReportKind, ReportOrigin } from './subjects.ts';
export { CLIENT_TLS, CLUSTER_LAYOUT, HARDENED_CIPHER_SUITES, renderServerConfig } from './serverconfig.ts';
export type { ServerConfigInput, ServerLayout } from './serverconfig.ts';
export type { ServerNames, TlsIssuer, TlsMaterial } from './tls.ts';
export { ClaimsError, MessagingBus, connectionOptions } from './bus.ts';
export type { BusOptions, Trust, UserCredentials } from './bus.ts';
