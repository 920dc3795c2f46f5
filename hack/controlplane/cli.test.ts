import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseDuration } from './cli.ts';
import { loadCrds } from './crds.ts';

describe('cli durations', () => {
  it('reads hours, minutes and seconds, alone or combined', () => {
    assert.equal(parseDuration('8h'), 8 * 3600_000);
    assert.equal(parseDuration('1h30m'), 5400_000);
    assert.equal(parseDuration('45s'), 45_000);
  });

  it('rejects text that is not a positive duration a timer can hold', () => {
    for (const bad of ['', '8', 'abc', '8h!', '0s', '30d']) assert.throws(() => parseDuration(bad), bad);
  });
});

describe('loading CRD files', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'crds-test-'));
    await writeFile(
      path.join(dir, 'crd.yaml'),
      [
        'apiVersion: apiextensions.k8s.io/v1',
        'kind: CustomResourceDefinition',
        'metadata:',
        '  name: things.example.com',
        '  labels: {app: \'{{ template "x" . }}\'}',
        'spec: {group: example.com}',
        '---',
        'apiVersion: example.com/v1',
        'kind: Thing',
        'metadata: {name: example}',
      ].join('\n'),
    );
  });
  after(() => rm(dir, { recursive: true, force: true }));

  it('keeps only CustomResourceDefinitions and strips labels when asked', async () => {
    const skipped: string[] = [];
    const crds = await loadCrds(dir, { stripLabels: true, log: (l) => skipped.push(l) });
    assert.deepEqual(
      crds.map((c) => c.name),
      ['things.example.com'],
    );
    assert.deepEqual(crds[0]?.manifest.metadata, { name: 'things.example.com' });
    assert.equal(skipped.length, 1);
  });
});
