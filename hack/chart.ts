/**
 * The operator's Helm chart rendered as a release would be (`helm template`, the project's helm), parsed:
 * for tools and tests that run what the chart deploys.
 */
import { execFile } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { parseAllDocuments } from 'yaml';
import { binaries, REPO_ROOT } from './controlplane/binaries.ts';

/** A rendered object, as far as its readers here look into it. */
export interface RenderedObject {
  kind?: string;
  spec?: { template?: { spec?: { containers?: ChartContainer[] } } };
}

export interface ChartContainer {
  command?: string[];
  args?: string[];
  env?: { name: string; value?: string }[];
}

/** charts/palisade as release `palisade` in `namespace`, with more helm flags (`--set`, `--kube-version`). */
export async function renderChart(namespace: string, flags: string[] = []): Promise<RenderedObject[]> {
  const { helm } = await binaries();
  const { stdout } = await promisify(execFile)(
    helm,
    ['template', 'palisade', path.join(REPO_ROOT, 'charts/palisade'), '--namespace', namespace, ...flags],
    { env: { ...process.env, HELM_CACHE_HOME: os.tmpdir() }, maxBuffer: 16 << 20 },
  );
  return parseAllDocuments(stdout)
    .map((d) => d.toJS() as RenderedObject | null)
    .filter((d): d is RenderedObject => d !== null);
}

/** The operator's container of the chart's Deployment. */
export function operatorContainer(objects: RenderedObject[]): ChartContainer | undefined {
  return objects.find((d) => d.kind === 'Deployment')?.spec?.template?.spec?.containers?.[0];
}
