/**
 * Operator wiring of the installation keys: the start-up task that makes or checks them before any
 * controller runs, and a controller that keeps the installation record current (new root versions from
 * a rotation) and notices a key lost while the operator runs.
 *
 * A missing key is reported everywhere an operator looks, and nothing is made in its place: /readyz
 * says not ready and why, `palisade_rootkey_missing{root_version}` / `palisade_installation_key_missing
 * {component}` are 1, a Warning Event is recorded on the ConfigMap `palisade-installation`, and an error
 * log line and an audit line carry the recovery step. The replica keeps its lease and checks again every
 * few seconds; once the key is back (`palisade restore`) it proceeds without a restart.
 */
import { Gauge } from 'prom-client';
import type { RandomSource } from '../crypto/index.ts';
import { watchMapped } from '../runtime/controller.ts';
import type { ObjectCache } from '../runtime/informer.ts';
import type { ConfigMap, KubeObject, Secret } from '../runtime/kube/types.ts';
import type { Manager } from '../runtime/manager.ts';
import { COMPONENT_LABEL } from '../runtime/objects.ts';
import { jwksOf, scheduleOf } from './jwks.ts';
import {
  ensureInstallationKeys,
  InstallationKeysMissing,
  JWKS_COMPONENT,
  JWKS_DATA_KEY,
  publishJwks,
} from './keys.ts';
import { observeInstallation, saveRecord } from './observe.ts';
import { RECORD_COMPONENT, RECORD_CONFIGMAP } from './record.ts';
import { Component, JWKS_CONFIGMAP } from './secrets.ts';
import { assessInstallation, recoveryStep, type Problem } from './verdict.ts';

export interface InstallationKeysOptions {
  namespace: string;
  rand: RandomSource;
  /** The operator's labelled-Secret informer: changes to installation keys re-check the record. */
  secrets: ObjectCache<Secret>;
  /** How often a replica missing a key checks again (default 5 s). */
  recheckMs?: number;
}

const TASK = 'installation-keys';
const INSTALLATION_COMPONENTS: ReadonlySet<string> = new Set(Object.values(Component));

export function setupInstallationKeys(mgr: Manager, o: InstallationKeysOptions) {
  const recheckMs = o.recheckMs ?? 5_000;
  const report = lossReporter(mgr, o.namespace);
  const deps = {
    client: mgr.client,
    namespace: o.namespace,
    rand: o.rand,
    log: mgr.log,
    audit: mgr.audit,
    now: () => new Date(mgr.clock.now()),
  };
  mgr.addStartupTask(
    TASK,
    async () => {
      try {
        await ensureInstallationKeys(deps);
      } catch (e) {
        if (e instanceof InstallationKeysMissing) await report.lost(e.problems, e.record);
        throw e;
      }
      report.ok();
    },
    { maxRetryDelayMs: recheckMs },
  );

  const records = mgr.informer<ConfigMap>('ConfigMap', `${COMPONENT_LABEL}=${RECORD_COMPONENT}`, o.namespace);
  const published = mgr.informer<ConfigMap>('ConfigMap', `${COMPONENT_LABEL}=${JWKS_COMPONENT}`, o.namespace);
  const recordKey = `${o.namespace}/${RECORD_CONFIGMAP}`;
  return mgr.addController({
    name: 'installation-record',
    primary: records,
    concurrency: 1,
    watches: [
      watchMapped(o.secrets, (s) =>
        s.metadata.namespace === o.namespace &&
        INSTALLATION_COMPONENTS.has(s.metadata.labels?.[COMPONENT_LABEL] ?? '')
          ? [recordKey]
          : [],
      ),
      // NB: a JWKS ConfigMap edited or deleted by hand is published again.
      watchMapped(published, () => [recordKey]),
    ],
    reconcile: async (key) => {
      if (key !== recordKey) return;
      const seen = await observeInstallation(deps);
      const verdict = assessInstallation(seen.observed);
      if (verdict.kind === 'lost' || verdict.kind === 'fresh') {
        const problems: Problem[] =
          verdict.kind === 'lost'
            ? verdict.problems
            : [
                {
                  component: Component.RootKey,
                  kind: 'Missing',
                  message: 'the installation keys and their record were deleted while the operator ran',
                },
              ];
        await report.lost(problems, seen.recordObject);
        return { requeueAfterMs: recheckMs };
      }
      report.ok();
      if (!(await saveRecord(deps, seen))) throw new Error('the installation record changed meanwhile');
      // NB: a JWT key rotation's next key, an activation and the end of an overlap change the JWKS: it is
      // published again on every change of the keys and at the schedule's next boundary.
      const now = mgr.clock.now();
      const schedule = scheduleOf(seen.jwtSecrets, now);
      const jwks = jwksOf(schedule);
      // NB: only when it differs: an apply that changes nothing is still an API write on every resync.
      if (published.get(JWKS_CONFIGMAP, o.namespace)?.data?.[JWKS_DATA_KEY] !== JSON.stringify(jwks))
        await publishJwks(deps, jwks);
      if (schedule.changesAt !== undefined)
        return { requeueAfterMs: Math.max(1000, schedule.changesAt - now) };
    },
  });
}

/** The metrics, Event, log and audit line of a loss, and the readiness hold; `ok()` lifts them. */
function lossReporter(mgr: Manager, namespace: string) {
  const root = new Gauge({
    name: 'palisade_rootkey_missing',
    help: 'A root key version this installation recorded (or wrapped material needs) is missing or not the recorded key: 1 per version.',
    labelNames: ['root_version'] as const,
    registers: [mgr.metrics.registry],
  });
  const other = new Gauge({
    name: 'palisade_installation_key_missing',
    help: 'A recorded JWT signing key or hash salt is missing or not the recorded key (or the record is unreadable): 1 per component.',
    labelNames: ['component'] as const,
    registers: [mgr.metrics.registry],
  });
  let reported: string | undefined;
  return {
    async lost(problems: Problem[], record: ConfigMap | undefined): Promise<void> {
      const recovery = recoveryStep(problems, namespace);
      const note = `${problems.map((p) => p.message).join('; ')}. To recover, ${recovery}.`;
      root.reset();
      other.reset();
      for (const p of problems) {
        if (p.component === Component.RootKey) root.set({ root_version: String(p.version ?? 0) }, 1);
        else other.set({ component: p.component }, 1);
      }
      mgr.setUnready(TASK, `installation keys missing: ${note}`);
      const about: KubeObject | undefined =
        record ?? (await mgr.client.get({ kind: 'Namespace', name: namespace }).catch(() => undefined));
      const reason = problems.some((p) => p.component === Component.RootKey)
        ? 'RootKeyMissing'
        : 'InstallationKeyMissing';
      if (about) mgr.events.record(about, 'Warning', reason, 'Verify', note);
      if (note === reported) return;
      reported = note;
      mgr.log.error('installation keys missing: nothing is made in their place; controllers wait', {
        namespace,
        problems: problems.map((p) => ({ component: p.component, version: p.version, kind: p.kind })),
        detail: note,
        recovery,
      });
      mgr.audit.record({
        action: 'installation.verify',
        outcome: 'Failure',
        resource: { kind: 'ConfigMap', name: RECORD_CONFIGMAP, namespace },
        reason: note,
      });
    },
    ok(): void {
      root.reset();
      other.reset();
      mgr.setUnready(TASK, undefined);
      if (reported === undefined) return;
      reported = undefined;
      mgr.log.info('installation keys complete again: proceeding', { namespace });
      mgr.audit.record({
        action: 'installation.verify',
        outcome: 'Success',
        resource: { kind: 'ConfigMap', name: RECORD_CONFIGMAP, namespace },
      });
    },
  };
}
