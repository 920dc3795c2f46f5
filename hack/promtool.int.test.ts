/**
 * The chart's alerting rules (charts/palisade/rules/palisade.rules.yaml) through the real promtool, built
 * by hack/build-tools.sh: they load, lint clean, and pass their unit tests, one per alert (it fires on a
 * bad series and stays silent on a good one). A missing promtool fails the run: CI builds it.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { parse } from 'yaml';
import { binaries, REPO_ROOT, requireFiles } from './controlplane/binaries.ts';

const run = promisify(execFile);
const RULES_DIR = path.join(REPO_ROOT, 'charts/palisade/rules');
const RULES = path.join(RULES_DIR, 'palisade.rules.yaml');
const TESTS = path.join(RULES_DIR, 'palisade.rules.test.yaml');

interface RuleFile {
  groups: { name: string; rules: { alert?: string; record?: string }[] }[];
}
interface RuleTests {
  tests: { name: string; alert_rule_test?: { alertname: string; exp_alerts: unknown[] }[] }[];
}

async function promtool(args: string[]): Promise<string> {
  const { promtool: bin } = await binaries();
  await requireFiles([bin]);
  try {
    const { stdout, stderr } = await run(bin, args, { cwd: RULES_DIR, maxBuffer: 16 << 20 });
    return stdout + stderr;
  } catch (e) {
    const { stdout = '', stderr = '' } = e as { stdout?: string; stderr?: string };
    throw new Error(`promtool ${args.join(' ')} failed:\n${stdout}${stderr}`, { cause: e });
  }
}

describe('Alerting rules (promtool)', function () {
  it('load and lint clean (promtool check rules)', async function () {
    const out = await promtool(['check', 'rules', '--lint=all', '--lint-fatal', RULES]);
    assert.match(out, /SUCCESS/);
  });

  it('pass their unit tests: each alert fires on its bad series and not on its good one', async function () {
    const out = await promtool(['test', 'rules', TESTS]);
    assert.match(out, /SUCCESS/);
  });

  it('have a unit test that expects each alert to fire', async function () {
    const rules = parse(await readFile(RULES, 'utf8')) as RuleFile;
    const tests = parse(await readFile(TESTS, 'utf8')) as RuleTests;
    const alerts = rules.groups.flatMap((g) => g.rules.flatMap((r) => (r.alert ? [r.alert] : [])));
    const firing = new Set(
      tests.tests.flatMap((t) =>
        (t.alert_rule_test ?? []).filter((a) => a.exp_alerts.length > 0).map((a) => a.alertname),
      ),
    );
    assert.ok(alerts.length >= 12, `only ${alerts.length} alerts`);
    assert.deepEqual(
      alerts.filter((a) => !firing.has(a)),
      [],
      'alerts without a test that makes them fire',
    );
  });
});
