/**
 * The wire contract, proto/palisade/keys/v1/keys.proto, loaded at run time by @grpc/proto-loader, and its
 * messages as TypeScript types (what proto-loader hands over with {@link LOADER_OPTIONS}: camelCase
 * fields, bytes as Buffer, defaults filled in, a `result` field naming the oneof member that is set).
 * proto.test.ts checks the two agree field by field.
 */
import { fileURLToPath } from 'node:url';
import { loadPackageDefinition, type GrpcObject, type ServiceDefinition } from '@grpc/grpc-js';
import { loadSync, type Options } from '@grpc/proto-loader';

/** The .proto files: in the checkout, and beside `dist/` in the image (Dockerfile). */
export const PROTO_ROOT = fileURLToPath(new URL('../../proto', import.meta.url));
export const PROTO_FILE = `${PROTO_ROOT}/palisade/keys/v1/keys.proto`;
export const IDENTIFIERS_PROTO_FILE = `${PROTO_ROOT}/palisade/keys/v1/identifiers.proto`;
export const TOKENS_PROTO_FILE = `${PROTO_ROOT}/palisade/keys/v1/tokens.proto`;
export const SERVICE_NAME = 'palisade.keys.v1.TenantData';

export const LOADER_OPTIONS: Options = {
  keepCase: false,
  longs: Number,
  enums: String,
  defaults: true,
  oneofs: true,
  includeDirs: [PROTO_ROOT],
};

export interface KeyRef {
  tenant: string;
  /** Empty means `primary`. */
  key: string;
}

export interface EncryptRequest {
  key: KeyRef;
  plaintext: Uint8Array;
  context: Uint8Array;
}
export interface EncryptResponse {
  ciphertext: Uint8Array;
  keyVersion: number;
}
export interface DecryptRequest {
  key: KeyRef;
  ciphertext: Uint8Array;
  context: Uint8Array;
}
export interface DecryptResponse {
  plaintext: Uint8Array;
  keyVersion: number;
}
export interface GenerateDataKeyRequest {
  key: KeyRef;
  context: Uint8Array;
}
export interface GenerateDataKeyResponse {
  plaintextKey: Uint8Array;
  encryptedKey: Uint8Array;
  keyVersion: number;
}
export interface RewrapRequest {
  key: KeyRef;
  ciphertext: Uint8Array;
  context: Uint8Array;
}
export interface RewrapResponse {
  ciphertext: Uint8Array;
  fromVersion: number;
  keyVersion: number;
}

/** A gRPC status code (`status` of @grpc/grpc-js) and a message. */
export interface ItemError {
  code: number;
  message: string;
}
/** One batch item's outcome: exactly one of `ok` and `error`. */
export type ItemResult<T> = { result: 'ok'; ok: T } | { result: 'error'; error: ItemError };

export interface EncryptItem {
  plaintext: Uint8Array;
  context: Uint8Array;
}
export interface CiphertextItem {
  ciphertext: Uint8Array;
  context: Uint8Array;
}
export interface BatchEncryptRequest {
  key: KeyRef;
  items: EncryptItem[];
}
export interface BatchDecryptRequest {
  key: KeyRef;
  items: CiphertextItem[];
}
export interface BatchGenerateDataKeyRequest {
  key: KeyRef;
  contexts: Uint8Array[];
}
export interface BatchRewrapRequest {
  key: KeyRef;
  items: CiphertextItem[];
}
export interface BatchResponse<T> {
  results: ItemResult<T>[];
}

/** Every RPC: its request and response types, and the operation a KeyAccessPolicy must allow. */
export interface Methods {
  Encrypt: [EncryptRequest, EncryptResponse];
  Decrypt: [DecryptRequest, DecryptResponse];
  GenerateDataKey: [GenerateDataKeyRequest, GenerateDataKeyResponse];
  Rewrap: [RewrapRequest, RewrapResponse];
  BatchEncrypt: [BatchEncryptRequest, BatchResponse<EncryptResponse>];
  BatchDecrypt: [BatchDecryptRequest, BatchResponse<DecryptResponse>];
  BatchGenerateDataKey: [BatchGenerateDataKeyRequest, BatchResponse<GenerateDataKeyResponse>];
  BatchRewrap: [BatchRewrapRequest, BatchResponse<RewrapResponse>];
}
export type Method = keyof Methods;

let loaded: GrpcObject | undefined;

/** The loaded package (parsed once per process). */
export function keysPackage(): GrpcObject {
  loaded ??= loadPackageDefinition(
    loadSync([PROTO_FILE, IDENTIFIERS_PROTO_FILE, TOKENS_PROTO_FILE], LOADER_OPTIONS),
  );
  return loaded;
}

function service(name: string): ServiceDefinition {
  const ctor = (keysPackage().palisade as GrpcObject).keys as GrpcObject;
  const svc = (ctor.v1 as GrpcObject)[name] as unknown as { service: ServiceDefinition };
  return svc.service;
}

/** The service definition for `server.addService` and client constructors. */
export function tenantDataService(): ServiceDefinition {
  return service('TenantData');
}

/** palisade.keys.v1.Identifiers (identifiers.proto). */
export function identifiersService(): ServiceDefinition {
  return service('Identifiers');
}

/** palisade.keys.v1.Tokens (tokens.proto). */
export function tokensService(): ServiceDefinition {
  return service('Tokens');
}

export type IdentifierKindName =
  'IDENTIFIER_KIND_UNSPECIFIED' | 'IDENTIFIER_KIND_EMAIL' | 'IDENTIFIER_KIND_OPAQUE';

export interface BlindIndexRequest {
  tenant: string;
  kind: IdentifierKindName;
  value: string;
}
export interface BlindIndexValue {
  saltVersion: number;
  index: string;
}
export interface BlindIndexResponse {
  indexes: BlindIndexValue[];
}
export interface BatchBlindIndexRequest {
  tenant: string;
  kind: IdentifierKindName;
  values: string[];
}
export interface HashPasswordRequest {
  tenant: string;
  password: string;
}
export interface HashPasswordResponse {
  hash: string;
  pepperVersion: number;
}
export interface VerifyPasswordRequest {
  tenant: string;
  password: string;
  hash: string;
}
export interface VerifyPasswordResponse {
  valid: boolean;
  needsRehash: boolean;
  pepperVersion: number;
}

/** palisade.keys.v1.Identifiers: request and response of each RPC. */
export interface IdentifierMethods {
  BlindIndex: [BlindIndexRequest, BlindIndexResponse];
  BatchBlindIndex: [BatchBlindIndexRequest, BatchResponse<BlindIndexResponse>];
  HashPassword: [HashPasswordRequest, HashPasswordResponse];
  VerifyPassword: [VerifyPasswordRequest, VerifyPasswordResponse];
}

export interface IssueTokenRequest {
  tenant: string;
  subject: string;
  audience: string;
  ttlSeconds: number;
  scopes: string[];
  refreshable: boolean;
}
export interface TokenResponse {
  accessToken: string;
  expiresIn: number;
  refreshToken: string;
  refreshExpiresIn: number;
  kid: string;
}
export interface RefreshTokenRequest {
  refreshToken: string;
  ttlSeconds: number;
}
export interface GetJwksResponse {
  jwks: string;
  currentKid: string;
  nextKids: string[];
  previousKids: string[];
}

/** palisade.keys.v1.Tokens: request and response of each RPC. */
export interface TokenMethods {
  IssueToken: [IssueTokenRequest, TokenResponse];
  RefreshToken: [RefreshTokenRequest, TokenResponse];
  RevokeRefreshToken: [{ refreshToken: string }, Record<string, never>];
  GetJwks: [Record<string, never>, GetJwksResponse];
}
