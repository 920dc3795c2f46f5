#!/usr/bin/env node
/**
 * node agent/main.ts --secret-dir DIR [--server tls://host:4222] [--interval 10s]
 *
 * The reference agent as a process: runs until SIGTERM/SIGINT, then drains its connection.
 */
import { parseArgs } from 'node:util';
import { startAgent } from './agent.ts';

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
const agent = await startAgent({
  secretDir,
  ...(values.server ? { server: values.server } : {}),
  intervalMs,
  log: (line) => process.stdout.write(`${line}\n`),
  onCommand: (verb) => process.stdout.write(`command ${verb}\n`),
});
const stop = () => void agent.stop().then(() => process.exit(0));
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
