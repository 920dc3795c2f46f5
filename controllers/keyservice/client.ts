/**
 * A typed client of the key service (palisade.keys.v1.TenantData) for platform code, the admin CLI and
 * tests. TLS 1.2+ trusting the internal CA bundle; the caller proves itself with a ServiceAccount token
 * (read again for every call: projected tokens rotate) or an internal-CA client certificate.
 *
 *   const keys = new KeyServiceClient({ address: 'palisade-keyservice.palisade-system.svc:8443', caPem,
 *     token: () => readFileSync('/var/run/secrets/palisade/token', 'utf8') });
 *   const { ciphertext } = await keys.encrypt({ tenant: 'acme' }, utf8('alice@example.com'), utf8('user/42/email'));
 *
 * A refusal rejects with a {@link KeyServiceCallError}: its `code` is the gRPC status (`status` of
 * @grpc/grpc-js), its message the server's explanation.
 *
 * Make one client per process and share it: concurrent calls multiplex on one HTTP/2 connection. With
 * `coalesce`, concurrent Encrypt/Decrypt/GenerateDataKey/Rewrap calls on one key go as one batch call.
 */
import { createSecureContext } from 'node:tls';
import {
  Client,
  credentials,
  Metadata,
  status,
  type ServiceDefinition,
  type ServiceError,
} from '@grpc/grpc-js';
import { Coalescer } from './coalesce.ts';
import { MAX_MESSAGE_BYTES } from './server.ts';
import {
  identifiersService,
  tenantDataService,
  tokensService,
  type BatchResponse,
  type BlindIndexResponse,
  type GetJwksResponse,
  type HashPasswordResponse,
  type IdentifierKindName,
  type TokenResponse,
  type VerifyPasswordResponse,
  type DecryptResponse,
  type EncryptResponse,
  type GenerateDataKeyResponse,
  type KeyRef,
  type Method,
  type Methods,
  type RewrapResponse,
} from './proto.ts';

export interface KeyServiceClientOptions {
  /** `host:port` of the key service. */
  address: string;
  /** The internal CA bundle (ConfigMap palisade-ca-bundle, key ca.crt). */
  caPem: string;
  /** The name the server's certificate must carry when it differs from the address's host. */
  serverName?: string;
  /** A ServiceAccount token with the key service's audience. */
  token?: () => string | Promise<string>;
  /** An internal-CA client certificate and its key. */
  clientCert?: { certPem: string; keyPem: string };
  /** Per-call deadline (default 30 s). */
  deadlineMs?: number;
  /**
   * Coalesce concurrent single calls: `encrypt`, `decrypt`, `generateDataKey` and `rewrap` calls on the
   * same key made in the same event-loop turn go as one batch call (up to 256 items, 1 MiB), each caller
   * still getting its own result or error. For a client shared by many concurrent callers: a batch item
   * costs both sides a fraction of a call (docs/keyservice.md, Benchmark). The server audits the batch
   * call (one record naming the item count), not each item.
   */
  coalesce?: boolean;
}

export class KeyServiceCallError extends Error {
  override readonly name = 'KeyServiceCallError';
  readonly code: status;
  constructor(code: status, message: string) {
    super(message);
    this.code = code;
  }
}

/** A key reference: a Tenant name and a TenantKey name (default primary). */
export type KeyName = { tenant: string; key?: string };
const ref = (k: KeyName): KeyRef => ({ tenant: k.tenant, key: k.key ?? '' });
const EMPTY = new Uint8Array(0);

type Sealed = { ciphertext: Uint8Array; context: Uint8Array };
type Plain = { plaintext: Uint8Array; context: Uint8Array };

/** The coalescers of one client, one per operation with a batch form. */
interface Coalescers {
  encrypt: Coalescer<KeyName, Plain, EncryptResponse>;
  decrypt: Coalescer<KeyName, Sealed, DecryptResponse>;
  generateDataKey: Coalescer<KeyName, Uint8Array, GenerateDataKeyResponse>;
  rewrap: Coalescer<KeyName, Sealed, RewrapResponse>;
}

export class KeyServiceClient {
  private readonly client: Client;
  private readonly service: ServiceDefinition;
  private readonly o: KeyServiceClientOptions;
  private readonly coalesced: Coalescers | undefined;

  constructor(o: KeyServiceClientOptions) {
    this.o = o;
    this.coalesced = o.coalesce ? this.coalescers() : undefined;
    this.service = tenantDataService();
    const ctx = createSecureContext({
      ca: o.caPem,
      minVersion: 'TLSv1.2',
      ...(o.clientCert ? { cert: o.clientCert.certPem, key: o.clientCert.keyPem } : {}),
    });
    this.client = new Client(o.address, credentials.createFromSecureContext(ctx), {
      'grpc.max_receive_message_length': MAX_MESSAGE_BYTES,
      'grpc.max_send_message_length': MAX_MESSAGE_BYTES,
      ...(o.serverName
        ? { 'grpc.ssl_target_name_override': o.serverName, 'grpc.default_authority': o.serverName }
        : {}),
    });
  }

  encrypt(key: KeyName, plaintext: Uint8Array, context = EMPTY): Promise<EncryptResponse> {
    if (this.coalesced) return this.coalesced.encrypt.call(key, { plaintext, context });
    return this.call('Encrypt', { key: ref(key), plaintext, context });
  }

  decrypt(key: KeyName, ciphertext: Uint8Array, context = EMPTY): Promise<DecryptResponse> {
    if (this.coalesced) return this.coalesced.decrypt.call(key, { ciphertext, context });
    return this.call('Decrypt', { key: ref(key), ciphertext, context });
  }

  generateDataKey(key: KeyName, context = EMPTY): Promise<GenerateDataKeyResponse> {
    if (this.coalesced) return this.coalesced.generateDataKey.call(key, context);
    return this.call('GenerateDataKey', { key: ref(key), context });
  }

  rewrap(key: KeyName, ciphertext: Uint8Array, context = EMPTY): Promise<RewrapResponse> {
    if (this.coalesced) return this.coalesced.rewrap.call(key, { ciphertext, context });
    return this.call('Rewrap', { key: ref(key), ciphertext, context });
  }

  batchEncrypt(
    key: KeyName,
    items: readonly { plaintext: Uint8Array; context?: Uint8Array }[],
  ): Promise<BatchResponse<EncryptResponse>> {
    return this.call('BatchEncrypt', {
      key: ref(key),
      items: items.map((i) => ({ plaintext: i.plaintext, context: i.context ?? EMPTY })),
    });
  }

  batchDecrypt(
    key: KeyName,
    items: readonly { ciphertext: Uint8Array; context?: Uint8Array }[],
  ): Promise<BatchResponse<DecryptResponse>> {
    return this.call('BatchDecrypt', {
      key: ref(key),
      items: items.map((i) => ({ ciphertext: i.ciphertext, context: i.context ?? EMPTY })),
    });
  }

  batchGenerateDataKey(
    key: KeyName,
    contexts: readonly Uint8Array[],
  ): Promise<BatchResponse<GenerateDataKeyResponse>> {
    return this.call('BatchGenerateDataKey', { key: ref(key), contexts: [...contexts] });
  }

  batchRewrap(
    key: KeyName,
    items: readonly { ciphertext: Uint8Array; context?: Uint8Array }[],
  ): Promise<BatchResponse<RewrapResponse>> {
    return this.call('BatchRewrap', {
      key: ref(key),
      items: items.map((i) => ({ ciphertext: i.ciphertext, context: i.context ?? EMPTY })),
    });
  }

  /** Blind indexes of `value` in `tenant`: the active salt version's first. */
  blindIndex(tenant: string, kind: 'email' | 'opaque', value: string): Promise<BlindIndexResponse> {
    return this.callOf(identifiersService(), 'BlindIndex', { tenant, kind: kindName(kind), value });
  }

  batchBlindIndex(
    tenant: string,
    kind: 'email' | 'opaque',
    values: readonly string[],
  ): Promise<BatchResponse<BlindIndexResponse>> {
    return this.callOf(identifiersService(), 'BatchBlindIndex', {
      tenant,
      kind: kindName(kind),
      values: [...values],
    });
  }

  hashPassword(tenant: string, password: string): Promise<HashPasswordResponse> {
    return this.callOf(identifiersService(), 'HashPassword', { tenant, password });
  }

  verifyPassword(tenant: string, password: string, hash: string): Promise<VerifyPasswordResponse> {
    return this.callOf(identifiersService(), 'VerifyPassword', { tenant, password, hash });
  }

  issueToken(o: {
    tenant: string;
    subject: string;
    audience: string;
    ttlSeconds?: number;
    scopes?: string[];
    refreshable?: boolean;
  }): Promise<TokenResponse> {
    return this.callOf(tokensService(), 'IssueToken', {
      tenant: o.tenant,
      subject: o.subject,
      audience: o.audience,
      ttlSeconds: o.ttlSeconds ?? 0,
      scopes: o.scopes ?? [],
      refreshable: o.refreshable ?? false,
    });
  }

  refreshToken(refreshToken: string, ttlSeconds = 0): Promise<TokenResponse> {
    return this.callOf(tokensService(), 'RefreshToken', { refreshToken, ttlSeconds });
  }

  async revokeRefreshToken(refreshToken: string): Promise<void> {
    await this.callOf(tokensService(), 'RevokeRefreshToken', { refreshToken });
  }

  getJwks(): Promise<GetJwksResponse> {
    return this.callOf(tokensService(), 'GetJwks', {});
  }

  /** Any RPC of TenantData by name, typed by the proto's request and response. */
  call<M extends Method>(method: M, req: Methods[M][0]): Promise<Methods[M][1]> {
    return this.callOf<Methods[M][0], Methods[M][1]>(this.service, method, req);
  }

  /** Any RPC of any palisade.keys.v1 service (proto.ts has each one's request and response types). */
  async callOf<Req, Res>(service: ServiceDefinition, method: string, req: Req): Promise<Res> {
    const def = service[method];
    if (!def) throw new Error(`no method ${method}`);
    const md = new Metadata();
    if (this.o.token) md.set('authorization', `Bearer ${(await this.o.token()).trim()}`);
    return new Promise((resolve, reject) => {
      this.client.makeUnaryRequest<Req, Res>(
        def.path,
        def.requestSerialize,
        def.responseDeserialize,
        req,
        md,
        { deadline: Date.now() + (this.o.deadlineMs ?? 30_000) },
        (err: ServiceError | null, res?: Res) => (err || !res ? reject(callError(err)) : resolve(res)),
      );
    });
  }

  close(): void {
    this.client.close();
  }

  private coalescers(): Coalescers {
    const common = {
      keyOf: (k: KeyName) => `${k.tenant}/${k.key ?? ''}`,
      itemError: (e: { code: number; message: string }) => new KeyServiceCallError(e.code, e.message),
    };
    const sealedSize = (i: Sealed) => i.ciphertext.byteLength + i.context.byteLength;
    return {
      encrypt: new Coalescer({
        ...common,
        sizeOf: (i) => i.plaintext.byteLength + i.context.byteLength,
        single: (k, i) => this.call('Encrypt', { key: ref(k), ...i }),
        batch: (k, items) => this.batchEncrypt(k, items),
      }),
      decrypt: new Coalescer({
        ...common,
        sizeOf: sealedSize,
        single: (k, i) => this.call('Decrypt', { key: ref(k), ...i }),
        batch: (k, items) => this.batchDecrypt(k, items),
      }),
      generateDataKey: new Coalescer({
        ...common,
        sizeOf: (c) => c.byteLength,
        single: (k, context) => this.call('GenerateDataKey', { key: ref(k), context }),
        batch: (k, contexts) => this.batchGenerateDataKey(k, contexts),
      }),
      rewrap: new Coalescer({
        ...common,
        sizeOf: sealedSize,
        single: (k, i) => this.call('Rewrap', { key: ref(k), ...i }),
        batch: (k, items) => this.batchRewrap(k, items),
      }),
    };
  }
}

function kindName(kind: 'email' | 'opaque'): IdentifierKindName {
  return kind === 'email' ? 'IDENTIFIER_KIND_EMAIL' : 'IDENTIFIER_KIND_OPAQUE';
}

function callError(err: ServiceError | null): KeyServiceCallError {
  if (!err) return new KeyServiceCallError(status.INTERNAL, 'empty response');
  return new KeyServiceCallError(err.code, err.details || err.message);
}
