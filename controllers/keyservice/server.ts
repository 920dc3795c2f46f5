/**
 * The gRPC server: TLS 1.2+ with the hardened suites every Palisade endpoint uses
 * (serving/https.ts `hardenedTls`), the key service's certificate from the internal CA, and
 * client certificates requested but optional (a caller may prove itself with a token instead); a client
 * certificate counts only when it verifies against the internal CA bundle. A renewed certificate or a new
 * CA bundle is taken in without a restart: new connections use it, open ones keep theirs.
 */
import {
  Server,
  ServerCredentials,
  type ServiceDefinition,
  type UntypedServiceImplementation,
} from '@grpc/grpc-js';
import type { SecureContextOptions } from 'node:tls';
import { hardenedTls } from '../serving/https.ts';

/** One gRPC service the server offers: the key service's own, and the cluster channel's beside them. */
export interface GrpcService {
  definition: ServiceDefinition;
  handlers: UntypedServiceImplementation;
}

/** PEM material the server presents and trusts. */
export interface ServerTls {
  cert: string;
  key: string;
  /** The internal CA bundle: what client certificates must chain to. */
  ca: string;
}

/** Largest request accepted: a 16 MiB plaintext (the PALD limit) with room for its framing. */
export const MAX_MESSAGE_BYTES = 17 * 1024 * 1024;

function contextOptions(tls: ServerTls): SecureContextOptions {
  return { ...hardenedTls({ cert: tls.cert, key: tls.key }), ca: tls.ca };
}

/** Server credentials whose certificate can be replaced while the server runs. */
class ReloadableCredentials extends ServerCredentials {
  constructor(tls: ServerTls) {
    super({ ...contextOptions(tls), requestCert: true, rejectUnauthorized: false }, contextOptions(tls));
  }

  update(tls: ServerTls): void {
    this.updateSecureContextOptions(contextOptions(tls));
  }

  _equals(other: ServerCredentials): boolean {
    return other === this;
  }
}

export interface KeyServer {
  readonly port: number;
  /** Takes a renewed certificate or bundle for new connections. */
  reload(tls: ServerTls): void;
  close(graceMs?: number): Promise<void>;
}

/** Listens on `address` (`host:port`, port 0 for any) with `services`. */
export async function startKeyServer(o: {
  address: string;
  tls: ServerTls;
  services: readonly GrpcService[];
}): Promise<KeyServer> {
  const server = new Server({
    'grpc.max_receive_message_length': MAX_MESSAGE_BYTES,
    'grpc.max_send_message_length': MAX_MESSAGE_BYTES,
  });
  for (const s of o.services) server.addService(s.definition, s.handlers);
  const creds = new ReloadableCredentials(o.tls);
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync(o.address, creds, (err, p) => (err ? reject(err) : resolve(p))),
  );
  return {
    port,
    reload: (tls) => creds.update(tls),
    close: (graceMs = 5_000) =>
      new Promise<void>((resolve) => {
        const timer = setTimeout(() => {
          server.forceShutdown();
          resolve();
        }, graceMs);
        timer.unref();
        server.tryShutdown(() => {
          clearTimeout(timer);
          resolve();
        });
      }),
  };
}
