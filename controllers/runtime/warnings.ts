/**
 * For command-line programs that dial gRPC over TLS (the admin CLI, the reference agent): grpc-js gives a
 * server's IP address (`--server 127.0.0.1:8443`, a port-forward) as the TLS server name, and Node warns
 * about that on every connection (DEP0123), though the certificate is still checked against the IP. Every
 * other warning is printed as Node prints it.
 */
export function withoutIpServerNameWarning(): void {
  const print = process.listeners('warning');
  process.removeAllListeners('warning');
  process.on('warning', (w: Error & { code?: string }) => {
    if (w.code !== 'DEP0123') for (const l of print) l(w);
  });
}
