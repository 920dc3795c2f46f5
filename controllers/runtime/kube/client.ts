import https from 'node:https';
import { ApiError } from './errors.ts';
import type { KubeApi } from './api.ts';
import { CredentialSource, type Connection } from './credentials.ts';
import type { KubeConfig } from './kubeconfig.ts';
import { resourceFor, resourcePath } from './resources.ts';
import type { KubeObject, ObjectList } from './types.ts';

export { loadKubeConfig } from './kubeconfig.ts';

export type Verb = 'get' | 'list' | 'create' | 'update' | 'apply' | 'patch' | 'delete';

export interface RequestObserver {
  (verb: Verb, kind: string, code: number, seconds: number): void;
}

export interface KubeClientOptions {
  /** How long credentials are reused before being re-read (client-go: a token file every minute). */
  credentialRefreshMs?: number;
  /** Called when the server starts rejecting the credentials (a reason) and when it accepts them again. */
  onCredentials?: (problem: string | undefined) => void;
}

interface Ref {
  kind: string;
  name: string;
  namespace?: string;
}

/**
 * A thin REST client for the Kubernetes API: JSON over a keep-alive HTTPS agent, authenticated from a
 * kubeconfig (kubeconfig.ts), with credentials re-read every minute and after a 401 (see
 * credentials.ts: rotated ServiceAccount tokens, token files, exec plugins). Server-side apply
 * (including on `/status`) and create-only writes are first-class, which the generated clients make
 * awkward. Every failure is an {@link ApiError} carrying the server's Status reason; no request or
 * response bodies are ever put in errors.
 */
export class KubeClient implements KubeApi {
  readonly kubeConfig: KubeConfig;
  readonly fieldManager: string;
  private readonly server: URL;
  private readonly observe: RequestObserver;
  private readonly credentials: CredentialSource;
  private readonly onCredentials: (problem: string | undefined) => void;
  private credentialProblem: string | undefined;

  constructor(
    kubeConfig: KubeConfig,
    fieldManager: string,
    observe: RequestObserver = () => undefined,
    opts: KubeClientOptions = {},
  ) {
    const cluster = kubeConfig.getCurrentCluster();
    if (!cluster) throw new Error('kubeconfig has no current cluster');
    this.kubeConfig = kubeConfig;
    this.fieldManager = fieldManager;
    this.server = new URL(cluster.server);
    this.observe = observe;
    this.credentials = new CredentialSource(kubeConfig, { refreshMs: opts.credentialRefreshMs });
    this.onCredentials = opts.onCredentials ?? (() => undefined);
  }

  async get<T extends KubeObject>(ref: Ref): Promise<T | undefined> {
    try {
      return await this.call<T>('get', ref.kind, 'GET', this.path(ref));
    } catch (e) {
      if (e instanceof ApiError && e.code === 404) return undefined;
      throw e;
    }
  }

  async list<T extends KubeObject>(
    kind: string,
    opts: { namespace?: string; labelSelector?: string } = {},
  ): Promise<ObjectList<T>> {
    const query: Record<string, string> = {};
    if (opts.labelSelector) query.labelSelector = opts.labelSelector;
    return this.call<ObjectList<T>>(
      'list',
      kind,
      'GET',
      resourcePath(resourceFor(kind), opts.namespace),
      query,
    );
  }

  /** Create-only: fails with 409 AlreadyExists rather than touching an existing object. */
  async create<T extends KubeObject>(obj: T): Promise<T> {
    const path = resourcePath(resourceFor(obj.kind), obj.metadata.namespace);
    return this.call<T>('create', obj.kind, 'POST', path, { fieldManager: this.fieldManager }, obj);
  }

  /** Server-side apply of the fields in `obj`, owned by this client's field manager. */
  async apply<T extends KubeObject>(obj: KubeObject, opts: { subresource?: 'status' } = {}): Promise<T> {
    const path = this.path(
      { kind: obj.kind, name: obj.metadata.name, namespace: obj.metadata.namespace },
      opts.subresource,
    );
    const query = { fieldManager: this.fieldManager, force: 'true' };
    const kind = opts.subresource ? `${obj.kind}/${opts.subresource}` : obj.kind;
    return this.call<T>('apply', kind, 'PATCH', path, query, obj, 'application/apply-patch+yaml');
  }

  /** Replaces the object; `metadata.resourceVersion` makes it fail with 409 Conflict if it changed meanwhile. */
  async update<T extends KubeObject>(obj: T): Promise<T> {
    const path = this.path({ kind: obj.kind, name: obj.metadata.name, namespace: obj.metadata.namespace });
    return this.call<T>('update', obj.kind, 'PUT', path, { fieldManager: this.fieldManager }, obj);
  }

  /**
   * A JSON patch (RFC 6902); `test` operations make it conditional, which is how finalizers stay race-safe.
   * NB: without `fieldManager` the server records the change in managedFields under "unknown".
   */
  async jsonPatch<T extends KubeObject>(ref: Ref, ops: readonly object[]): Promise<T> {
    const query = { fieldManager: this.fieldManager };
    const type = 'application/json-patch+json';
    return this.call<T>('patch', ref.kind, 'PATCH', this.path(ref), query, ops, type);
  }

  async delete(
    ref: Ref,
    opts: { uid?: string; propagationPolicy?: 'Foreground' | 'Background' | 'Orphan' } = {},
  ): Promise<boolean> {
    const body = {
      kind: 'DeleteOptions',
      apiVersion: 'v1',
      ...(opts.uid ? { preconditions: { uid: opts.uid } } : {}),
      ...(opts.propagationPolicy ? { propagationPolicy: opts.propagationPolicy } : {}),
    };
    try {
      await this.call('delete', ref.kind, 'DELETE', this.path(ref), {}, body);
      return true;
    } catch (e) {
      if (e instanceof ApiError && e.code === 404) return false;
      throw e;
    }
  }

  private path(ref: Ref, subresource?: string): string {
    return resourcePath(resourceFor(ref.kind), ref.namespace, ref.name, subresource);
  }

  /** The current credentials; a failure to load them (token file gone, exec plugin failing) is reported. */
  private async connection(renewing?: Connection): Promise<Connection> {
    try {
      return await (renewing ? this.credentials.renew(renewing) : this.credentials.connection());
    } catch (e) {
      const message = `cannot load the API credentials: ${e instanceof Error ? e.message : String(e)}`;
      this.reportCredentials(message);
      throw new ApiError(0, 'CredentialsUnavailable', message, { cause: e });
    }
  }

  /** Tells `onCredentials` when the server starts or stops rejecting the credentials (any answer but 401). */
  private reportCredentials(problem: string | undefined): void {
    if (problem === this.credentialProblem) return;
    this.credentialProblem = problem;
    this.onCredentials(problem);
  }

  /** One request; a 401 is retried once with credentials re-read from their source (rotated tokens). */
  private async call<T>(
    verb: Verb,
    kind: string,
    method: string,
    path: string,
    query: Record<string, string> = {},
    body?: unknown,
    contentType = 'application/json',
  ): Promise<T> {
    const url = new URL(path, this.server);
    for (const [k, v] of Object.entries(query)) url.searchParams.set(k, v);
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const request = { verb, kind, method, url, payload, contentType };
    const first = await this.connection();
    let { status, text } = await this.send(first, request);
    if (status === 401) ({ status, text } = await this.send(await this.connection(first), request));
    this.reportCredentials(status === 401 ? REJECTED : undefined);
    if (status >= 200 && status < 300) return (text ? JSON.parse(text) : {}) as T;
    throw statusError(status, text, `${method} ${url.pathname}`);
  }

  private async send(
    { agent, headers }: Connection,
    r: { verb: Verb; kind: string; method: string; url: URL; payload?: string; contentType: string },
  ): Promise<{ status: number; text: string }> {
    const { method, url, payload } = r;
    const started = performance.now();
    const res = await new Promise<{ status: number; text: string }>((resolve, reject) => {
      const req = https.request(
        url,
        {
          method,
          agent,
          timeout: 30_000,
          headers: {
            ...headers,
            Accept: 'application/json',
            ...(payload
              ? { 'Content-Type': r.contentType, 'Content-Length': Buffer.byteLength(payload) }
              : {}),
          },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () =>
            resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }),
          );
          res.on('error', reject);
        },
      );
      req.on('timeout', () => req.destroy(new Error(`request to ${url.pathname} timed out`)));
      req.on('error', (e) =>
        reject(new ApiError(0, 'ConnectionFailed', `${method} ${url.pathname}: ${e.message}`)),
      );
      if (payload) req.write(payload);
      req.end();
    }).catch((e: unknown) => {
      this.observe(r.verb, r.kind, 0, (performance.now() - started) / 1000);
      throw e;
    });
    this.observe(r.verb, r.kind, res.status, (performance.now() - started) / 1000);
    return res;
  }
}

const REJECTED =
  'the API server rejects the credentials (401 Unauthorized), also when re-read: ' +
  'check the ServiceAccount token (or the kubeconfig user) the operator runs with';

function statusError(code: number, text: string, what: string): ApiError {
  try {
    const s = JSON.parse(text) as { reason?: string; message?: string };
    return new ApiError(code, s.reason ?? 'Unknown', s.message ?? what);
  } catch {
    return new ApiError(code, 'Unknown', `${what} failed with HTTP ${code}`);
  }
}
