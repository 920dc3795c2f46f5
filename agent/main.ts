#!/usr/bin/env node
/**
 * palisade-agent pair [--server HOST:PORT --ca-fingerprint sha256:HEX]   (default: `server`, `ca-pin` of the code Secret)
 *                     (--code-secret [NS/]NAME[:KEY] | --code-file FILE | --code CODE | $PALISADE_PAIRING_CODE)
 *                     (--credentials-secret [NS/]NAME | --credentials-dir DIR) [--kubeconfig FILE] [--namespace NS]
 *                     [--server-name NAME] [--tenant NAME] [--if-unpaired]    (unless the code Secret's `code-id` is new)
 * palisade-agent run  (--credentials-secret [NS/]NAME | --credentials-dir DIR) [--kubeconfig FILE] [--namespace NS]
 *                     [--channels grpc,nats] [--interval 10s] [--nats-server tls://HOST:PORT]
 * palisade-agent --secret-dir DIR [--server tls://HOST:4222] [--interval 10s]     (NATS only, agent.ts)
 *
 * `run` and the NATS-only mode run until SIGTERM/SIGINT, then stop and exit 0. Exit status:
 *   3  Palisade refused: the pairing code (wrong, used, expired), or the credentials (the ClusterAgent
 *      was deleted or suspended, the user revoked). Restarting will not help; a new code will.
 *   4  the server's CA does not match --ca-fingerprint (pair): possibly not Palisade at all.
 *   2  usage;  1  anything else (retry: network, rate limit, API errors).
 */
import { parseArgs } from 'node:util';
import { CredentialsRefusedError, startAgent } from './agent.ts';
import { CODE_OPTIONS, pairingInput, durationMs, STORE_OPTIONS, storeFrom, UsageError } from './cli.ts';
import { PairingRefusedError, pairAgent } from './pair.ts';
import { PinError } from './pin.ts';
import { runChannels, type ChannelName } from './run.ts';
import { withoutIpServerNameWarning } from '../controllers/runtime/warnings.ts';

const EXIT_USAGE = 2;
const EXIT_REFUSED = 3;
const EXIT_PIN = 4;

const say = (line: string) => process.stdout.write(`${line}\n`);

/** Exits with the status that says why; refusals have already been logged. */
function exitFor(why: unknown): never {
  if (why instanceof CredentialsRefusedError) process.exit(EXIT_REFUSED);
  const message = why instanceof Error ? why.message : String(why);
  process.stderr.write(`palisade-agent: ${message}\n`);
  if (why instanceof PairingRefusedError) process.exit(EXIT_REFUSED);
  if (why instanceof PinError) process.exit(EXIT_PIN);
  const usage = why instanceof UsageError || /^ERR_PARSE_ARGS/.test(String((why as { code?: unknown }).code));
  process.exit(usage ? EXIT_USAGE : 1);
}

function onSignals(stop: () => Promise<void>): void {
  const handler = () => void stop().then(() => process.exit(0));
  process.on('SIGTERM', handler);
  process.on('SIGINT', handler);
}

async function pairCommand(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: {
      ...STORE_OPTIONS,
      ...CODE_OPTIONS,
      server: { type: 'string' },
      'server-name': { type: 'string' },
      'ca-fingerprint': { type: 'string' },
      tenant: { type: 'string' },
      'if-unpaired': { type: 'boolean', default: false },
    },
  });
  const store = storeFrom(values);
  const shown = await pairingInput(values);
  if (values['if-unpaired']) {
    const stored = await store.load();
    // NB: a code Secret showing another code ID than the one paired with is a new code: pair again.
    if (stored && (!shown.codeId || shown.codeId === stored.codeId)) {
      say(`already paired: credentials in ${store.where}`);
      return;
    }
    if (stored) say(`the code Secret shows a new code (ID ${shown.codeId}): pairing again`);
  }
  const server = values.server ?? shown.server;
  const caFingerprint = values['ca-fingerprint'] ?? shown.caPin;
  if (!server || !caFingerprint) {
    throw new UsageError(
      'pair needs --server and --ca-fingerprint (or server and ca-pin in the code Secret)',
    );
  }
  const code = shown.code;
  if (!code) {
    throw new UsageError('pair needs a code: --code-secret, --code-file, --code or PALISADE_PAIRING_CODE');
  }
  await pairAgent({
    code,
    server,
    caFingerprint,
    ...(values['server-name'] ? { serverName: values['server-name'] } : {}),
    ...(values.tenant ? { tenant: values.tenant } : {}),
    store,
    log: say,
  });
}

async function runCommand(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: {
      ...STORE_OPTIONS,
      channels: { type: 'string', default: 'grpc' },
      interval: { type: 'string' },
      'nats-server': { type: 'string' },
    },
  });
  const channels = values.channels.split(',').map((c) => c.trim());
  const unknown = channels.filter((c) => c !== 'grpc' && c !== 'nats');
  if (unknown.length > 0 || channels.length === 0) {
    throw new UsageError(`--channels is a list of grpc and nats, got "${values.channels}"`);
  }
  const agent = await runChannels({
    store: storeFrom(values),
    channels: channels as ChannelName[],
    ...(values.interval ? { intervalMs: durationMs(values.interval) } : {}),
    ...(values['nats-server'] ? { natsServer: values['nats-server'] } : {}),
    log: say,
  });
  void agent.ended.then((why) => why && exitFor(why));
  onSignals(() => agent.stop());
}

/** The NATS-only mode of the first reference agent: credentials from a mounted Secret directory. */
async function natsOnlyCommand(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: {
      'secret-dir': { type: 'string' },
      server: { type: 'string' },
      interval: { type: 'string', default: '10s' },
    },
  });
  const secretDir = values['secret-dir'];
  if (!secretDir)
    throw new UsageError('usage: palisade-agent pair|run … (or --secret-dir DIR for NATS only)');
  const agent = await startAgent({
    secretDir,
    ...(values.server ? { server: values.server } : {}),
    intervalMs: durationMs(values.interval),
    log: say,
    onCommand: (verb) => say(`command ${verb}`),
  });
  void agent.ended.then((why) => why && exitFor(why));
  onSignals(() => agent.stop());
}

withoutIpServerNameWarning();
const [command, ...rest] = process.argv.slice(2);
const commands: Record<string, (args: string[]) => Promise<void>> = { pair: pairCommand, run: runCommand };
const chosen = command !== undefined ? commands[command] : undefined;
await (chosen ? chosen(rest) : natsOnlyCommand(process.argv.slice(2))).catch(exitFor);
