/**
 * Exec credential plugins (client.authentication.k8s.io, ExecCredential v1 and v1beta1: kubectl's
 * "client-go credential plugins", e.g. aws-iam-authenticator, gke-gcloud-auth-plugin, kubelogin). The
 * command is run with the kubeconfig's args and env plus KUBERNETES_EXEC_INFO, and prints one
 * ExecCredential whose status holds a bearer token or a client certificate and key (PEM), and maybe an
 * expiry. As in client-go, the result is kept until it expires or the server rejects it.
 * https://kubernetes.io/docs/reference/access-authn-authz/authentication/#client-go-credential-plugins
 */
import { spawn } from 'node:child_process';

const GROUP = 'client.authentication.k8s.io';
/** v1alpha1 was removed from client-go in Kubernetes 1.24. */
export const EXEC_API_VERSIONS = [`${GROUP}/v1`, `${GROUP}/v1beta1`];
/** A plugin that has not answered by then is killed; every request would otherwise wait on it. */
const EXEC_TIMEOUT_MS = 60_000;
/** Output past these sizes is not a credential (stdout) or not worth repeating in an error (stderr). */
const MAX_STDOUT = 1 << 20;
const MAX_STDERR_IN_ERROR = 2048;

/** A kubeconfig user's `exec` stanza, its command resolved against the kubeconfig's directory. */
export interface ExecConfig {
  command: string;
  args: string[];
  env: { name: string; value: string }[];
  apiVersion: string;
  /** Never, IfAvailable or Always: this process has no terminal, so Always cannot be served. */
  interactiveMode?: string;
  provideClusterInfo: boolean;
  installHint?: string;
}

/**
 * What a plugin handed out. Certificate and key are PEM text, as ExecCredential carries them;
 * `expiresAt` is in ms since the epoch.
 */
export interface ExecCredential {
  readonly token?: string;
  readonly cert?: string;
  readonly key?: string;
  readonly expiresAt?: number;
}

/** The cluster as a plugin sees it in `spec.cluster` when the kubeconfig sets provideClusterInfo. */
export interface ExecClusterInfo {
  server: string;
  'tls-server-name'?: string;
  'insecure-skip-tls-verify'?: boolean;
  /** base64 of the PEM bundle. */
  'certificate-authority-data'?: string;
}

/** Runs a command and returns its stdout; rejects with a message that never quotes stdout. */
export type Runner = (command: string, args: string[], env: NodeJS.ProcessEnv) => Promise<string>;

/** One user's plugin: its credential, re-run when it expired or was rejected, at most one run at a time. */
export class ExecPlugin {
  private readonly user: string;
  private readonly config: ExecConfig;
  private readonly cluster: () => Promise<ExecClusterInfo | undefined>;
  private readonly run: Runner;
  private readonly now: () => number;
  private cached: ExecCredential | undefined;
  private running: Promise<ExecCredential> | undefined;

  constructor(
    user: string,
    config: ExecConfig,
    cluster: () => Promise<ExecClusterInfo | undefined>,
    opts: { run?: Runner; now?: () => number } = {},
  ) {
    this.user = user;
    this.config = config;
    this.cluster = cluster;
    this.run = opts.run ?? runCommand;
    this.now = opts.now ?? Date.now;
  }

  /** The cached credential unless it expired or is `rejected` (the one a 401 answered); else a new one. */
  credential(rejected?: ExecCredential): Promise<ExecCredential> {
    const c = this.cached;
    const usable = c && c !== rejected && (c.expiresAt === undefined || this.now() < c.expiresAt);
    if (usable) return Promise.resolve(c);
    this.running ??= this.execute().finally(() => (this.running = undefined));
    return this.running;
  }

  private async execute(): Promise<ExecCredential> {
    const { command, args, env, apiVersion, interactiveMode } = this.config;
    if (!EXEC_API_VERSIONS.includes(apiVersion))
      throw this.error(
        `asks for ExecCredential ${apiVersion || '(no apiVersion)'}; supported: ${EXEC_API_VERSIONS.join(', ')}`,
      );
    if (interactiveMode === 'Always')
      throw this.error('needs a terminal (interactiveMode: Always), and the operator has none');
    const cluster = this.config.provideClusterInfo ? await this.cluster() : undefined;
    const info = {
      apiVersion,
      kind: 'ExecCredential',
      spec: { interactive: false, ...(cluster ? { cluster } : {}) },
    };
    const childEnv: NodeJS.ProcessEnv = { ...process.env };
    for (const { name, value } of env) childEnv[name] = value;
    childEnv.KUBERNETES_EXEC_INFO = JSON.stringify(info);
    let stdout: string;
    try {
      stdout = await this.run(command, args, childEnv);
    } catch (e) {
      const hint = isNotFound(e) && this.config.installHint ? `\n${this.config.installHint}` : '';
      throw this.error(`${e instanceof Error ? e.message : String(e)}${hint}`, e);
    }
    this.cached = this.parse(stdout);
    return this.cached;
  }

  /** Checks the ExecCredential as client-go does; NB: no error quotes the output, which holds the secret. */
  private parse(stdout: string): ExecCredential {
    let out: { apiVersion?: unknown; kind?: unknown; status?: Record<string, unknown> };
    try {
      out = JSON.parse(stdout) as typeof out;
    } catch {
      throw this.error('printed something that is not JSON');
    }
    if (out?.kind !== 'ExecCredential' || out.apiVersion !== this.config.apiVersion)
      throw this.error(
        `printed ${String(out?.kind)} ${String(out?.apiVersion)}, not ExecCredential ${this.config.apiVersion}`,
      );
    const s = out.status;
    if (!s || typeof s !== 'object') throw this.error('printed an ExecCredential without status');
    const str = (v: unknown) => (typeof v === 'string' && v !== '' ? v : undefined);
    const token = str(s.token);
    const cert = str(s.clientCertificateData);
    const key = str(s.clientKeyData);
    if (!token && !cert && !key)
      throw this.error('returned neither a token nor a client certificate and key');
    if (!cert !== !key)
      throw this.error('returned a client certificate without its key, or a key without its certificate');
    let expiresAt: number | undefined;
    if (s.expirationTimestamp !== undefined) {
      expiresAt = Date.parse(String(s.expirationTimestamp));
      if (Number.isNaN(expiresAt)) throw this.error('returned an expirationTimestamp that is not RFC 3339');
    }
    return {
      ...(token ? { token } : {}),
      ...(cert ? { cert } : {}),
      ...(key ? { key } : {}),
      ...(expiresAt !== undefined ? { expiresAt } : {}),
    };
  }

  private error(what: string, cause?: unknown): Error {
    return new Error(
      `the exec credential plugin of kubeconfig user "${this.user}" (${this.config.command}) ${what}`,
      {
        cause,
      },
    );
  }
}

const isNotFound = (e: unknown) => (e as { code?: unknown } | undefined)?.code === 'ENOENT';

/** The plugin as a child process: stdin closed (never interactive), stderr kept for the error message. */
export const runCommand: Runner = (command, args, env) =>
  new Promise((resolve, reject) => {
    const child = spawn(command, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill();
    }, EXEC_TIMEOUT_MS);
    const out: Buffer[] = [];
    let outBytes = 0;
    let err = '';
    child.stdout.on('data', (c: Buffer) => {
      outBytes += c.length;
      if (outBytes <= MAX_STDOUT) out.push(c);
      else child.kill();
    });
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (c: string) => (err = (err + c).slice(-MAX_STDERR_IN_ERROR)));
    child.on('error', (e: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      const error = new Error(e.code === 'ENOENT' ? 'was not found' : `could not be run: ${e.message}`);
      reject(Object.assign(error, { code: e.code }));
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (code === 0 && outBytes <= MAX_STDOUT) return resolve(Buffer.concat(out).toString('utf8'));
      const how = timedOut
        ? `did not finish within ${EXEC_TIMEOUT_MS / 1000} s`
        : outBytes > MAX_STDOUT
          ? 'printed more than 1 MiB'
          : signal
            ? `was ended by ${signal}`
            : `exited with code ${code}`;
      reject(new Error(err.trim() ? `${how}: ${err.trim()}` : how));
    });
  });
