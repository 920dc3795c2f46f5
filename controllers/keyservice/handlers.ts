/**
 * The gRPC handlers of palisade.keys.v1.TenantData: for every call, authenticate (auth.ts), authorize
 * (policy.ts, deny by default), open the tenant key (keycache.ts), run the operation (operations.ts) and
 * audit it — identity, tenant, key, operation, key versions, outcome; never data, keys or tokens.
 */
import type { PeerCertificate } from 'node:tls';
import type { sendUnaryData, ServerUnaryCall, UntypedServiceImplementation } from '@grpc/grpc-js';
import type { KeyAccessPolicy, KeyOperation } from '../../crds/v1alpha1/index.ts';
import type { RandomSource } from '../crypto/index.ts';
import type { AuditLog } from '../runtime/log.ts';
import type { Authenticator } from './auth.ts';
import { asKeyServiceError, KeyServiceError } from './errors.ts';
import { PRIMARY_KEY, type OpenKey, type TenantKeyCache } from './keycache.ts';
import * as op from './operations.ts';
import { allowedBy, identityName, type Identity } from './policy.ts';
import type { KeyRef, Method, Methods } from './proto.ts';

export interface HandlerDeps {
  authenticator: Authenticator;
  /** The policies that name this identity among their subjects. */
  policiesOf(id: Identity): KeyAccessPolicy[];
  keys: TenantKeyCache;
  audit: AuditLog;
  rand: RandomSource;
  /** Undefined when the replica can serve; otherwise why not (caches syncing, keys missing). */
  notReady(): string | undefined;
  /** Called after every call (metrics). */
  observe?(method: Method, code: string, seconds: number): void;
}

/** What one call reached, for its audit record. */
interface Reached {
  identity?: Identity;
  key?: OpenKey;
  versions?: number[];
  detail?: string;
}

type Run<M extends Method> = (o: OpenKey, req: Methods[M][0], d: HandlerDeps, r: Reached) => Methods[M][1];

const single =
  <M extends Method>(
    fn: (o: OpenKey, req: Methods[M][0], d: HandlerDeps) => Methods[M][1] & { keyVersion: number },
  ): Run<M> =>
  (o, req, d, r) => {
    const res = fn(o, req, d);
    r.versions = [res.keyVersion];
    return res;
  };

const batch =
  <M extends Method, I>(
    items: (req: Methods[M][0]) => readonly I[],
    fn: (o: OpenKey, item: I, d: HandlerDeps) => unknown,
  ): Run<M> =>
  (o, req, d, r) => {
    const list = items(req);
    const results = op.each(list, (item) => fn(o, item, d));
    r.versions = op.versionsOf(results);
    const failed = results.filter((x) => x.result === 'error').length;
    r.detail = `${list.length} items, ${failed} failed`;
    return { results } as Methods[M][1];
  };

const RUN: { [M in Method]: Run<M> } = {
  Encrypt: single<'Encrypt'>((o, req) => op.encrypt(o, req)),
  Decrypt: single<'Decrypt'>((o, req) => op.decrypt(o, req)),
  GenerateDataKey: single<'GenerateDataKey'>((o, req, d) => op.generate(o, req.context, d.rand)),
  Rewrap: single<'Rewrap'>((o, req) => op.rewrap(o, req)),
  BatchEncrypt: batch<'BatchEncrypt', Methods['Encrypt'][0]>(
    (req) => req.items.map((i) => ({ ...i, key: req.key })),
    (o, i) => op.encrypt(o, i),
  ),
  BatchDecrypt: batch<'BatchDecrypt', Methods['Decrypt'][0]>(
    (req) => req.items.map((i) => ({ ...i, key: req.key })),
    (o, i) => op.decrypt(o, i),
  ),
  BatchGenerateDataKey: batch<'BatchGenerateDataKey', Uint8Array>(
    (req) => req.contexts,
    (o, c, d) => op.generate(o, c, d.rand),
  ),
  BatchRewrap: batch<'BatchRewrap', Methods['Rewrap'][0]>(
    (req) => req.items.map((i) => ({ ...i, key: req.key })),
    (o, i) => op.rewrap(o, i),
  ),
};

function keyRef(ref: KeyRef | undefined): { tenant: string; key: string } {
  const tenant = ref?.tenant ?? '';
  if (!tenant) throw new KeyServiceError('InvalidArgument', 'key.tenant is required (a Tenant name)');
  return { tenant, key: ref?.key || PRIMARY_KEY };
}

function authorize(
  d: HandlerDeps,
  id: Identity,
  ref: { tenant: string; key: string },
  operation: KeyOperation,
) {
  if (allowedBy(d.policiesOf(id), { ...ref, operation })) return;
  throw new KeyServiceError(
    'PermissionDenied',
    `${identityName(id)} may not ${operation} with key ${ref.key} of Tenant ${ref.tenant}: no KeyAccessPolicy allows it`,
  );
}

/** Runs one call through the whole chain; resolves to the response or a KeyServiceError. */
export async function handle<M extends Method>(
  d: HandlerDeps,
  method: M,
  req: Methods[M][0],
  authorization: string | undefined,
  cert: () => PeerCertificate | undefined,
): Promise<Methods[M][1]> {
  const started = performance.now();
  const r: Reached = {};
  const operation = op.OPERATION_OF[method] as KeyOperation;
  let ref: { tenant: string; key: string } | undefined;
  try {
    const authenticated = d.authenticator.authenticate(authorization, cert);
    r.identity = authenticated instanceof Promise ? await authenticated : authenticated;
    ref = keyRef(req.key);
    authorize(d, r.identity, ref, operation);
    const notReady = d.notReady();
    if (notReady) throw new KeyServiceError('Unavailable', notReady);
    r.key = d.keys.get(ref.tenant, ref.key);
    const res = RUN[method](r.key, req, d, r);
    audit(d, method, r, ref, undefined);
    d.observe?.(method, 'OK', (performance.now() - started) / 1000);
    return res;
  } catch (e) {
    const err = asKeyServiceError(e);
    audit(d, method, r, ref, err);
    d.observe?.(method, err.code, (performance.now() - started) / 1000);
    throw err;
  }
}

function audit(
  d: HandlerDeps,
  method: Method,
  r: Reached,
  ref: { tenant: string; key: string } | undefined,
  err: KeyServiceError | undefined,
): void {
  const versions = r.versions ?? [];
  const reason = [r.detail, versions.length > 1 ? `versions ${versions.join(',')}` : undefined, err?.message]
    .filter(Boolean)
    .join('; ');
  d.audit.record({
    action: `keyservice.${method}`,
    outcome: err ? 'Failure' : 'Success',
    actor: r.identity ? identityName(r.identity) : 'unauthenticated',
    resource: r.key
      ? { kind: 'TenantKey', name: r.key.tenantKey.metadata.name, namespace: r.key.tenant.namespace }
      : { kind: 'Tenant', name: ref?.tenant ?? '' },
    ...(r.key ? { tenantUID: r.key.tenant.uid } : {}),
    ...(versions.length === 1 ? { version: versions[0] } : {}),
    ...(err ? { reason: `${err.code}: ${reason}` } : reason ? { reason } : {}),
  });
}

/** The service implementation for `server.addService(tenantDataService(), …)`. */
export function tenantDataHandlers(d: HandlerDeps): UntypedServiceImplementation {
  const impl: UntypedServiceImplementation = {};
  for (const method of Object.keys(RUN) as Method[]) {
    impl[method] = (call: ServerUnaryCall<Methods[Method][0], unknown>, callback: sendUnaryData<unknown>) => {
      const authorization = call.metadata.get('authorization')[0];
      const cert = () => call.getAuthContext().sslPeerCertificate;
      handle(
        d,
        method,
        call.request,
        typeof authorization === 'string' ? authorization : undefined,
        cert,
      ).then(
        (res) => callback(null, res),
        (e: KeyServiceError) => callback({ code: e.grpcCode, details: e.message }),
      );
    };
  }
  return impl;
}
