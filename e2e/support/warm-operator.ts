#!/usr/bin/env node
/**
 * Runs the operator (`controllers/main.ts`, with this process's arguments) once a line arrives on stdin,
 * with its module graph loaded beforehand. A crash journey starts the next operator while the current one
 * works, so a kill is followed by a start that does not first spend a second loading modules. Nothing of
 * the operator changes: same code, same flags, one process per operator, killed with SIGKILL.
 */
import { readFile } from 'node:fs/promises';

const main = new URL('../../controllers/main.ts', import.meta.url);
const source = await readFile(main, 'utf8');
// NB: main.ts's own imports, in its order: importing them runs no operator code but their module bodies.
for (const [, spec] of source.matchAll(/^import\s[^;]*?\sfrom\s'([^']+)';/gms))
  if (spec) await import(new URL(spec, main).href);

const go = await new Promise<boolean>((resolve) => {
  process.stdin.once('data', () => resolve(true));
  process.stdin.once('end', () => resolve(false));
});
process.stdin.destroy();
if (go) await import(main.href);
else process.exit(0);
