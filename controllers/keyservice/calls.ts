/**
 * The call chain of the services beside TenantData (Identifiers, Tokens): authenticate (auth.ts), then the
 * operation, which authorizes each tenant it touches through {@link CallScope.authorize} (policy.ts, deny
 * by default, before the tenant is looked up), then one audit record — identity, tenant, operation, key
 * version, outcome; never identifiers, passwords, hashes or tokens.
 */
import type { PeerCertificate } from 'node:tls';
import type { sendUnaryData, ServerUnaryCall, UntypedServiceImplementation } from '@grpc/grpc-js';
import type { KeyAccessPolicy, KeyOperation } from '../../crds/v1alpha1/index.ts';
import type { TenantRecord } from '../keystore/tenants.ts';
import type { AuditLog } from '../runtime/log.ts';
import type { Authenticator } from './auth.ts';
import { asKeyServiceError, KeyServiceError } from './errors.ts';
import { allowedBy, identityName, type Identity } from './policy.ts';

export interface CallDeps {
  authenticator: Authenticator;
  policiesOf(id: Identity): KeyAccessPolicy[];
  /** The live tenant named so, by Palisade's record; throws NotFound. */
  tenant(name: string): TenantRecord;
  audit: AuditLog;
  notReady(): string | undefined;
  observe?(method: string, code: string, seconds: number): void;
}

/** What one call may do and record while it runs. */
export interface CallScope {
  readonly identity: Identity;
  /** Allows `operation` on `tenant` or throws PermissionDenied; then returns the tenant's record. */
  authorize(tenant: string, operation: KeyOperation): TenantRecord;
  /** The installation key version used (salt or signing key), for the audit record. */
  version?: number;
  /** Counts and the like for the audit record: never data. */
  detail?: string;
}

export type Operation<Req, Res> = (req: Req, scope: CallScope) => Res | Promise<Res>;

export async function runCall<Req, Res>(
  d: CallDeps,
  method: string,
  req: Req,
  authorization: string | undefined,
  cert: () => PeerCertificate | undefined,
  operation: Operation<Req, Res>,
): Promise<Res> {
  const started = performance.now();
  let identity: Identity | undefined;
  let tenant: { name: string; uid?: string } | undefined;
  let scope: CallScope | undefined;
  try {
    const authenticated = d.authenticator.authenticate(authorization, cert);
    const id = authenticated instanceof Promise ? await authenticated : authenticated;
    identity = id;
    const notReady = d.notReady();
    if (notReady) throw new KeyServiceError('Unavailable', notReady);
    scope = {
      identity: id,
      authorize: (name, op) => {
        tenant = { name };
        if (!name) throw new KeyServiceError('InvalidArgument', 'tenant is required (a Tenant name)');
        if (!allowedBy(d.policiesOf(id), { tenant: name, operation: op }))
          throw new KeyServiceError(
            'PermissionDenied',
            `${identityName(id)} may not ${op} for Tenant ${name}: no KeyAccessPolicy allows it`,
          );
        const record = d.tenant(name);
        tenant.uid = record.uid;
        return record;
      },
    };
    const res = await operation(req, scope);
    audit(d, method, identity, tenant, scope, undefined);
    d.observe?.(method, 'OK', (performance.now() - started) / 1000);
    return res;
  } catch (e) {
    const err = asKeyServiceError(e);
    audit(d, method, identity, tenant, scope, err);
    d.observe?.(method, err.code, (performance.now() - started) / 1000);
    throw err;
  }
}

function audit(
  d: CallDeps,
  method: string,
  identity: Identity | undefined,
  tenant: { name: string; uid?: string } | undefined,
  scope: CallScope | undefined,
  err: KeyServiceError | undefined,
): void {
  const reason = [scope?.detail, err?.message].filter(Boolean).join('; ');
  d.audit.record({
    action: `keyservice.${method}`,
    outcome: err ? 'Failure' : 'Success',
    actor: identity ? identityName(identity) : 'unauthenticated',
    resource: { kind: 'Tenant', name: tenant?.name ?? '' },
    ...(tenant?.uid ? { tenantUID: tenant.uid } : {}),
    ...(scope?.version !== undefined ? { version: scope.version } : {}),
    ...(err ? { reason: `${err.code}: ${reason}` } : reason ? { reason } : {}),
  });
}

/** A gRPC service implementation whose every method runs through {@link runCall}. */
export function serviceHandlers(
  d: CallDeps,
  operations: Record<string, Operation<never, unknown>>,
): UntypedServiceImplementation {
  const impl: UntypedServiceImplementation = {};
  for (const [method, operation] of Object.entries(operations)) {
    impl[method] = (call: ServerUnaryCall<unknown, unknown>, callback: sendUnaryData<unknown>) => {
      const authorization = call.metadata.get('authorization')[0];
      runCall(
        d,
        method,
        // NB: the service definition deserialized it into the operation's request type.
        call.request as never,
        typeof authorization === 'string' ? authorization : undefined,
        () => call.getAuthContext().sslPeerCertificate,
        operation,
      ).then(
        (res) => callback(null, res),
        (e: KeyServiceError) => callback({ code: e.grpcCode, details: e.message }),
      );
    };
  }
  return impl;
}
