/**
 * The cluster channel's wire contract, proto/palisade/agents/v1/agents.proto, loaded at run time by
 * @grpc/proto-loader, and its messages as TypeScript types (what proto-loader hands over with
 * {@link LOADER_OPTIONS}: camelCase fields, bytes as Buffer, int64 as number, enums as their names,
 * defaults filled in). proto.test.ts checks the two agree field by field.
 *
 * Shared by both ends: the operator's Pairing and ClusterChannel services and the agent's clients.
 */
import { fileURLToPath } from 'node:url';
import {
  loadPackageDefinition,
  type ChannelCredentials,
  type ChannelOptions,
  type Client,
  type GrpcObject,
  type ServiceClientConstructor,
  type ServiceDefinition,
} from '@grpc/grpc-js';
import { loadSync, type Options } from '@grpc/proto-loader';

/** The .proto file: in the checkout, and beside `dist/` in the image (Dockerfile). */
export const PROTO_FILE = fileURLToPath(
  new URL('../../proto/palisade/agents/v1/agents.proto', import.meta.url),
);
export const PACKAGE = 'palisade.agents.v1';
export const PAIRING_SERVICE = `${PACKAGE}.Pairing`;
export const CLUSTER_CHANNEL_SERVICE = `${PACKAGE}.ClusterChannel`;

export const LOADER_OPTIONS: Options = {
  keepCase: false,
  longs: Number,
  enums: String,
  defaults: true,
  oneofs: true,
};

export interface PairRequest {
  code: string;
  natsUserPublicKey: string;
  /** PKCS#10, DER. */
  certificateRequest: Uint8Array;
  agentVersion: string;
  /** Optional: the Tenant the agent means to join ('' or absent = any; field added after v1 clients). */
  tenant?: string;
}

export interface AgentCredentials {
  clientCertificate: string;
  caBundle: string;
  natsUserJwt: string;
  natsUrl: string;
  /** Unix seconds. */
  notAfter: number;
  /** Unix seconds. */
  renewAfter: number;
}

export interface PairResponse {
  credentials: AgentCredentials;
  tenant: string;
  namespace: string;
  clusterAgent: string;
  clusterName: string;
  codeId: string;
}

export const HEALTH_VALUES = [
  'HEALTH_UNSPECIFIED',
  'HEALTH_HEALTHY',
  'HEALTH_DEGRADED',
  'HEALTH_UNHEALTHY',
] as const;
export type Health = (typeof HEALTH_VALUES)[number];

export interface ReportRequest {
  health: Health;
  statistics: Record<string, string>;
}
export interface ReportResponse {
  reportIntervalSeconds: number;
}

export type CommandsRequest = Record<string, never>;

export interface Command {
  id: string;
  verb: string;
}

export interface RenewRequest {
  natsUserPublicKey: string;
  certificateRequest: Uint8Array;
}
export interface RenewResponse {
  credentials: AgentCredentials;
}

/** Every unary RPC of each service: its request and response types. */
export interface PairingMethods {
  Pair: [PairRequest, PairResponse];
}
export interface ClusterChannelMethods {
  Report: [ReportRequest, ReportResponse];
  Commands: [CommandsRequest, Command];
  Renew: [RenewRequest, RenewResponse];
}

let loaded: GrpcObject | undefined;

/** The loaded package (parsed once per process). */
export function agentsPackage(): GrpcObject {
  loaded ??= loadPackageDefinition(loadSync(PROTO_FILE, LOADER_OPTIONS));
  return loaded;
}

function serviceConstructor(name: 'Pairing' | 'ClusterChannel'): ServiceClientConstructor {
  const palisade = agentsPackage().palisade as GrpcObject;
  const v1 = (palisade.agents as GrpcObject).v1 as GrpcObject;
  return v1[name] as ServiceClientConstructor;
}

/** The Pairing service definition for `server.addService`. */
export function pairingService(): ServiceDefinition {
  return serviceConstructor('Pairing').service;
}

/** The ClusterChannel service definition for `server.addService`. */
export function clusterChannelService(): ServiceDefinition {
  return serviceConstructor('ClusterChannel').service;
}

/** A generic (untyped) client; call methods by name, e.g. `client.Pair(req, cb)`. */
export type AgentClient = Client & Record<string, (...args: unknown[]) => unknown>;

/** A Pairing client for `address` (`host:port`). */
export function pairingClient(
  address: string,
  creds: ChannelCredentials,
  options?: ChannelOptions,
): AgentClient {
  const Ctor = serviceConstructor('Pairing');
  return new Ctor(address, creds, options) as AgentClient;
}

/** A ClusterChannel client for `address` (`host:port`); `creds` carry the agent's client certificate. */
export function clusterChannelClient(
  address: string,
  creds: ChannelCredentials,
  options?: ChannelOptions,
): AgentClient {
  const Ctor = serviceConstructor('ClusterChannel');
  return new Ctor(address, creds, options) as AgentClient;
}
