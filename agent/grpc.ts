/**
 * The agent's gRPC client of proto/palisade/agents/v1/agents.proto: `Pairing.Pair` (no client
 * certificate: the code is the credential; the messages and service definitions are
 * controllers/agentchannel/proto.ts, shared with the server) and `ClusterChannel` (the client certificate
 * Pair or Renew returned). TLS ≥ 1.2 trusting only the CAs the agent stored (pinned at pairing, then the
 * bundle of each Pair or Renew); the server's certificate must name the address's host (or `serverName`).
 *
 * A refusal rejects with a {@link CallError} carrying the gRPC status; {@link isRefusal} says which
 * statuses mean "these credentials or this code will not work again".
 */
import { createSecureContext } from 'node:tls';
import {
  Client,
  credentials,
  Metadata,
  status,
  type ClientReadableStream,
  type ServiceDefinition,
  type ServiceError,
} from '@grpc/grpc-js';
import {
  clusterChannelService,
  pairingService,
  type Command,
  type PairRequest,
  type PairResponse,
  type RenewRequest,
  type RenewResponse,
  type ReportRequest,
  type ReportResponse,
} from '../controllers/agentchannel/proto.ts';

export type { AgentCredentials, Command, Health } from '../controllers/agentchannel/proto.ts';

export class CallError extends Error {
  override readonly name = 'CallError';
  readonly code: status;
  readonly metadata: Metadata | undefined;
  constructor(code: status, message: string, metadata?: Metadata) {
    super(message);
    this.code = code;
    this.metadata = metadata;
  }
}

/** Statuses that say the code or the certificate was refused, not that the network failed. */
export function isRefusal(e: unknown): boolean {
  return e instanceof CallError && (e.code === status.PERMISSION_DENIED || e.code === status.UNAUTHENTICATED);
}

export interface ChannelTls {
  /** `host:port` of Palisade's gRPC server. */
  address: string;
  /** The CAs trusted (PEM): the pinned one, or the bundle of the last renewal; no others. */
  caPem: string;
  serverName?: string;
  /** The client certificate and key; absent only for Pair. */
  client?: { certPem: string; keyPem: string };
}

export class AgentClient {
  private readonly client: Client;
  private readonly tls: ChannelTls;

  constructor(tls: ChannelTls) {
    this.tls = tls;
    const ctx = createSecureContext({
      ca: tls.caPem,
      minVersion: 'TLSv1.2',
      ...(tls.client ? { cert: tls.client.certPem, key: tls.client.keyPem } : {}),
    });
    this.client = new Client(tls.address, credentials.createFromSecureContext(ctx), {
      ...(tls.serverName
        ? { 'grpc.ssl_target_name_override': tls.serverName, 'grpc.default_authority': tls.serverName }
        : {}),
      // The agent's calls are few and small; a dead server is noticed by keepalive rather than a hang.
      'grpc.keepalive_time_ms': 30_000,
      'grpc.keepalive_timeout_ms': 10_000,
    });
  }

  pair(req: PairRequest, deadlineMs = 30_000): Promise<PairResponse> {
    return this.unary(pairingService(), 'Pair', req, deadlineMs);
  }

  report(req: ReportRequest, deadlineMs = 10_000): Promise<ReportResponse> {
    return this.unary(clusterChannelService(), 'Report', req, deadlineMs);
  }

  renew(req: RenewRequest, deadlineMs = 30_000): Promise<RenewResponse> {
    return this.unary(clusterChannelService(), 'Renew', req, deadlineMs);
  }

  /** The command stream; `end` is called once, with undefined when the server ended it cleanly. */
  commands(onCommand: (c: Command) => void, end: (e: CallError | undefined) => void): () => void {
    const def = clusterChannelService().Commands;
    if (!def) throw new Error('no method Commands');
    const call: ClientReadableStream<Command> = this.client.makeServerStreamRequest(
      def.path,
      def.requestSerialize,
      def.responseDeserialize,
      {},
      new Metadata(),
      {},
    );
    let ended = false;
    const finish = (e: CallError | undefined) => {
      if (!ended) end(e);
      ended = true;
    };
    call.on('data', onCommand);
    call.on('error', (e: ServiceError) => finish(callError(e)));
    call.on('end', () => finish(undefined));
    return () => {
      ended = true;
      call.cancel();
    };
  }

  close(): void {
    this.client.close();
  }

  private unary<Req, Res>(
    svc: ServiceDefinition,
    method: string,
    req: Req,
    deadlineMs: number,
  ): Promise<Res> {
    const def = svc[method];
    if (!def) throw new Error(`no method ${method}`);
    return new Promise((resolve, reject) => {
      this.client.makeUnaryRequest<Req, Res>(
        def.path,
        def.requestSerialize,
        def.responseDeserialize,
        req,
        new Metadata(),
        { deadline: Date.now() + deadlineMs },
        (err: ServiceError | null, res?: Res) => (err || !res ? reject(callError(err)) : resolve(res)),
      );
    });
  }

  get address(): string {
    return this.tls.address;
  }
}

function callError(err: ServiceError | null): CallError {
  if (!err) return new CallError(status.INTERNAL, 'empty response');
  return new CallError(err.code, err.details || err.message, err.metadata);
}
