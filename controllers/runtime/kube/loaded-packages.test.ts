// @kubernetes/client-node costs 85–89 MiB of RSS when merely imported (its config module imports the
// whole generated API), half of an idle operator; the runtime talks to the API server on its own.
// Checked on the module graph Node actually loads, so an import anywhere (or a package that pulls it
// in) fails here, not only an import written in controllers/.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import path from 'node:path';

const repo = path.resolve(import.meta.dirname, '../../..');

/** Records every package specifier resolved while the process runs, and prints them at exit. */
const HOOK = `
import { registerHooks } from 'node:module';
const seen = new Set();
registerHooks({
  resolve(specifier, context, next) {
    if (!/^(\\.|\\/|node:|file:|data:)/.test(specifier)) seen.add(specifier);
    return next(specifier, context);
  },
});
process.on('exit', () => process.stderr.write('\\nLOADED ' + JSON.stringify([...seen]) + '\\n'));
`;

/** The bare specifiers an entry point's module graph resolves (`args` make it exit at once). */
function packagesLoadedBy(entry: string, args: string[]): string[] {
  const r = spawnSync(
    process.execPath,
    ['--import', `data:text/javascript,${encodeURIComponent(HOOK)}`, entry, ...args],
    { cwd: repo, encoding: 'utf8', timeout: 60_000, env: { ...process.env, KUBECONFIG: '/nonexistent' } },
  );
  const line = r.stderr.split('\n').find((l) => l.startsWith('LOADED '));
  assert.ok(line, `${entry} printed no module list: ${r.stderr.slice(-2000)}`);
  return JSON.parse(line.slice('LOADED '.length)) as string[];
}

describe('the operator and the agent do not load @kubernetes/client-node', function () {
  this.timeout(120_000);

  const entries: [string, string[]][] = [
    ['controllers/main.ts', ['--help']],
    ['controllers/cli.ts', ['--help']],
    ['agent/main.ts', ['--help']],
  ];
  for (const [entry, args] of entries)
    it(`${entry}: its module graph resolves no @kubernetes/client-node module`, () => {
      const loaded = packagesLoadedBy(entry, args);
      assert.ok(loaded.includes('yaml'), `the hook saw the packages (got ${loaded.join(', ')})`);
      assert.deepEqual(
        loaded.filter((s) => s.startsWith('@kubernetes/client-node')),
        [],
      );
    });
});
