#!/usr/bin/env node
/**
 * node agent/main.ts --secret-dir DIR [--server tls://host:4222] [--interval 10s]
 *
 * The reference agent as a process: runs until SIGTERM/SIGINT, then drains its connection and exits 0.
 * Exit status 3: the server refused or revoked the credentials (see agent.ts: the restart, under
 * Kubernetes' back-off, reads the Secret's current credentials); 1: any other fatal error; 2: usage.
 */
import { parseArgs } from 'node:util';
import { CredentialsRefusedError, startAgent } from './agent.ts';

const EXIT_REFUSED = 3;

const { values } = parseArgs({
  options: {
    'secret-dir': { type: 'string' },
    server: { type: 'string' },
    interval: { type: 'string', default: '10s' },
  },
});
const secretDir = values['secret-dir'];
if (!secretDir) {
  process.stderr.write('usage: agent/main.ts --secret-dir DIR [--server URL] [--interval 10s]\n');
  process.exit(2);
}
const m = /^(\d+)(ms|s)$/.exec(values.interval);
const intervalMs = m ? Number(m[1]) * (m[2] === 's' ? 1000 : 1) : 10_000;

/** Exits with the status that says why; the agent has already logged refusals. */
function exitFor(why: unknown): never {
  if (why instanceof CredentialsRefusedError) process.exit(EXIT_REFUSED);
  process.stderr.write(`agent failed: ${why instanceof Error ? why.message : String(why)}\n`);
  process.exit(1);
}

const agent = await startAgent({
  secretDir,
  ...(values.server ? { server: values.server } : {}),
  intervalMs,
  log: (line) => process.stdout.write(`${line}\n`),
  onCommand: (verb) => process.stdout.write(`command ${verb}\n`),
}).catch(exitFor);
void agent.ended.then((why) => why && exitFor(why));
const stop = () => void agent.stop().then(() => process.exit(0));
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
