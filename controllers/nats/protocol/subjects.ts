/**
 * The NATS subjects of Palisade (docs/messaging.md). Every tenant subject carries the tenant UID, and
 * every agent subject the ClusterAgent's name, so the subject a message arrived on — which the server
 * enforced through the agent's permissions and its account's imports — says who sent it:
 *
 *   palisade.t.<tenantUID>.agent.<agent>.heartbeat   agent → Palisade   liveness, every interval
 *   palisade.t.<tenantUID>.agent.<agent>.health      agent → Palisade   Healthy|Degraded|Unhealthy
 *   palisade.t.<tenantUID>.agent.<agent>.stats       agent → Palisade   JSON object of statistics
 *   palisade.t.<tenantUID>.agent.<agent>.cmd.<verb>  Palisade → agent   commands
 *
 * Tenant UIDs are 12 lowercase hex characters and agent names DNS labels (the CRD validates both), so
 * neither can contain `.`, `*`, `>` or whitespace: a name can never widen a subject.
 */
export const REPORT_KINDS = ['heartbeat', 'health', 'stats'] as const;
export type ReportKind = (typeof REPORT_KINDS)[number];

const ROOT = 'palisade.t';
const UID = /^[0-9a-f]{12}$/;
const AGENT = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;

export class SubjectError extends Error {
  override name = 'SubjectError';
}

function checkUID(tenantUID: string): string {
  if (!UID.test(tenantUID)) throw new SubjectError('tenant UID must be 12 lowercase hex characters');
  return tenantUID;
}

function checkAgent(agent: string): string {
  if (!AGENT.test(agent)) throw new SubjectError('agent name must be a DNS label');
  return agent;
}

/** `palisade.t.<uid>.agent.<agent>.<kind>`: where the agent publishes a report. */
export function agentReportSubject(tenantUID: string, agent: string, kind: ReportKind): string {
  return `${ROOT}.${checkUID(tenantUID)}.agent.${checkAgent(agent)}.${kind}`;
}

/** `palisade.t.<uid>.agent.<agent>.cmd.>`: the commands an agent may subscribe to. */
export function agentCommandSubjects(tenantUID: string, agent: string): string {
  return `${ROOT}.${checkUID(tenantUID)}.agent.${checkAgent(agent)}.cmd.>`;
}

/** One command subject: `palisade.t.<uid>.agent.<agent>.cmd.<verb>`. */
export function agentCommandSubject(tenantUID: string, agent: string, verb: string): string {
  if (!/^[a-z][a-z0-9-]{0,62}$/.test(verb)) throw new SubjectError('command verb must be a lowercase word');
  return `${ROOT}.${checkUID(tenantUID)}.agent.${checkAgent(agent)}.cmd.${verb}`;
}

/** What Palisade's account exports as a service, per report kind (every tenant, every agent). */
export function reportExportSubject(kind: ReportKind): string {
  return `${ROOT}.*.agent.*.${kind}`;
}

/** What a tenant's account imports from that service: only its own UID. */
export function reportImportSubject(tenantUID: string, kind: ReportKind): string {
  return `${ROOT}.${checkUID(tenantUID)}.agent.*.${kind}`;
}

/** The stream of commands Palisade's account exports, and the slice a tenant's account imports. */
export const COMMAND_EXPORT_SUBJECT = `${ROOT}.*.agent.*.cmd.>`;
export function commandImportSubject(tenantUID: string): string {
  return `${ROOT}.${checkUID(tenantUID)}.agent.*.cmd.>`;
}

/** Palisade's own subscription: every report of every tenant, as its account receives them. */
export const ALL_REPORTS_SUBJECT = `${ROOT}.*.agent.*.*`;

export interface ReportOrigin {
  tenantUID: string;
  agent: string;
  kind: ReportKind;
}

/** Who sent a report, read from the subject alone; undefined for anything that is not a report subject. */
export function parseReportSubject(subject: string): ReportOrigin | undefined {
  const t = subject.split('.');
  if (t.length !== 6 || t[0] !== 'palisade' || t[1] !== 't' || t[3] !== 'agent') return undefined;
  const [tenantUID, agent, kind] = [t[2] ?? '', t[4] ?? '', t[5] ?? ''];
  if (!UID.test(tenantUID) || !AGENT.test(agent)) return undefined;
  if (!(REPORT_KINDS as readonly string[]).includes(kind)) return undefined;
  return { tenantUID, agent, kind: kind as ReportKind };
}

/** The permissions of one agent's NATS user: publish its own reports, receive its own commands. */
export function agentPermissions(tenantUID: string, agent: string): { pub: string[]; sub: string[] } {
  return {
    pub: REPORT_KINDS.map((k) => agentReportSubject(tenantUID, agent, k)),
    sub: [agentCommandSubjects(tenantUID, agent)],
  };
}
