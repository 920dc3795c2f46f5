// Installs CustomResourceDefinitions with server-side apply over plain HTTPS (faster than spawning
// kubectl, which first runs discovery) and waits until the apiserver serves them.
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { parseAllDocuments } from 'yaml';
import { apiRequest, StopWaiting, waitUntil, type ApiTarget } from './net.ts';
import type { Child } from './proc.ts';

const CRD_PATH = '/apis/apiextensions.k8s.io/v1/customresourcedefinitions';
const FIELD_MANAGER = 'palisade-controlplane';

export interface CrdDoc {
  file: string;
  name: string;
  manifest: Record<string, unknown>;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

async function yamlFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries
    .filter((e) => e.isFile() && /\.ya?ml$/.test(e.name))
    .map((e) => path.join(e.parentPath, e.name))
    .sort();
}

export async function hasYaml(dir: string): Promise<boolean> {
  try {
    return (await yamlFiles(dir)).length > 0;
  } catch {
    return false;
  }
}

// Every CustomResourceDefinition document under `dir`; other kinds are skipped (and reported through `log`)
// so that example manifests may live beside the definitions.
export async function loadCrds(
  dir: string,
  opts: { stripLabels: boolean; log: (l: string) => void },
): Promise<CrdDoc[]> {
  const out: CrdDoc[] = [];
  for (const file of await yamlFiles(dir)) {
    for (const doc of parseAllDocuments(await readFile(file, 'utf8'))) {
      if (doc.errors.length > 0) throw new Error(`${file}: ${doc.errors[0]?.message}`);
      const manifest: unknown = doc.toJS();
      if (!isRecord(manifest)) continue;
      const metadata = manifest.metadata;
      if (manifest.kind !== 'CustomResourceDefinition' || !isRecord(metadata)) {
        opts.log(`skipping ${String(manifest.kind)} in ${file}: only CustomResourceDefinitions are applied`);
        continue;
      }
      // cert-manager's files carry Helm template expressions as label values, which are not valid labels.
      if (opts.stripLabels) delete metadata.labels;
      out.push({ file, name: String(metadata.name), manifest });
    }
  }
  return out;
}

// The apiserver explains failures in a Status object; its message is the readable part.
function statusMessage(body: string): string {
  try {
    const status: unknown = JSON.parse(body);
    if (isRecord(status) && typeof status.message === 'string') return status.message;
  } catch {
    // not JSON: show it as is
  }
  return body;
}

async function applyCrd(target: ApiTarget, crd: CrdDoc): Promise<void> {
  const query = `fieldManager=${FIELD_MANAGER}&force=true`;
  const res = await apiRequest(target, 'PATCH', `${CRD_PATH}/${crd.name}?${query}`, {
    contentType: 'application/apply-patch+yaml',
    data: JSON.stringify(crd.manifest),
  });
  if (res.status >= 300) {
    throw new Error(
      `applying CRD ${crd.name} from ${crd.file}: HTTP ${res.status}: ${statusMessage(res.body)}`,
    );
  }
}

interface Condition {
  type?: string;
  status?: string;
  message?: string;
}

// A name conflict never resolves by waiting.
class NamesRejected extends StopWaiting {}

async function established(target: ApiTarget, name: string): Promise<true | undefined> {
  const res = await apiRequest(target, 'GET', `${CRD_PATH}/${name}`);
  if (res.status !== 200) return undefined;
  const body = JSON.parse(res.body) as { status?: { conditions?: Condition[] } };
  const conditions = body.status?.conditions ?? [];
  const names = conditions.find((c) => c.type === 'NamesAccepted');
  if (names?.status === 'False')
    throw new NamesRejected(`CRD ${name}: ${names.message ?? 'names not accepted'}`);
  return conditions.some((c) => c.type === 'Established' && c.status === 'True') ? true : undefined;
}

// `watch`: stop waiting if the apiserver dies.
export async function installCrds(target: ApiTarget, crds: CrdDoc[], watch: Child[]): Promise<void> {
  await Promise.all(crds.map((crd) => applyCrd(target, crd)));
  await Promise.all(
    crds.map((crd) =>
      waitUntil(`CRD ${crd.name} Established`, () => established(target, crd.name), {
        timeoutMs: 60_000,
        intervalMs: 100,
        watch,
      }),
    ),
  );
}
