/**
 * TLS material for nats-server behind a small interface ({@link TlsIssuer}): messaging does not care who
 * signs the server certificate. The operator uses Palisade's internal CA (controllers/nats/tls.ts).
 */

export interface TlsMaterial {
  /** PEM of the CA clients must trust. */
  caPem: string;
  certPem: string;
  /** PKCS#8 PEM of the server key: secret. */
  keyPem: string;
}

export interface ServerNames {
  dnsNames: string[];
  ipAddresses: string[];
}

export interface TlsIssuer {
  issueServer(names: ServerNames, now: Date): Promise<TlsMaterial>;
}
