import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** The operator's Prometheus metrics. Labels carry kinds, verbs and reasons only: never names of keys. */
export class Metrics {
  readonly registry = new Registry();
  readonly reconciles = new Counter({
    name: 'palisade_reconcile_total',
    help: 'Reconciles by controller and result (success, error, requeue, terminal, conflict: a stale read, requeued).',
    labelNames: ['controller', 'result'] as const,
    registers: [this.registry],
  });
  readonly reconcileErrors = new Counter({
    name: 'palisade_reconcile_errors_total',
    help: 'Reconciles that ended in an error, by controller.',
    labelNames: ['controller'] as const,
    registers: [this.registry],
  });
  readonly reconcileDuration = new Histogram({
    name: 'palisade_reconcile_duration_seconds',
    help: 'Time spent in one reconcile, by controller.',
    labelNames: ['controller'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [this.registry],
  });
  readonly queueDepth = new Gauge({
    name: 'palisade_workqueue_depth',
    help: 'Keys waiting in a controller work queue.',
    labelNames: ['controller'] as const,
    registers: [this.registry],
  });
  readonly apiRequests = new Counter({
    name: 'palisade_api_requests_total',
    help: 'Kubernetes API requests by verb, kind and HTTP code.',
    labelNames: ['verb', 'kind', 'code'] as const,
    registers: [this.registry],
  });
  readonly eventsDropped = new Counter({
    name: 'palisade_events_dropped_total',
    help: 'Events not written because the Normal Events budget was spent (a burst of thousands of objects), by type.',
    labelNames: ['type'] as const,
    registers: [this.registry],
  });
  readonly isLeader = new Gauge({
    name: 'palisade_leader',
    help: '1 while this replica holds the leader lease.',
    registers: [this.registry],
  });
  readonly informerSynced = new Gauge({
    name: 'palisade_informer_synced',
    help: '1 once the list/watch cache of a kind is filled (the operator lists and watches that kind).',
    labelNames: ['kind'] as const,
    registers: [this.registry],
  });
  readonly informerRestarts = new Counter({
    name: 'palisade_informer_restarts_total',
    help: 'List/watch restarts after errors, by kind.',
    labelNames: ['kind'] as const,
    registers: [this.registry],
  });

  constructor() {
    collectDefaultMetrics({ register: this.registry, prefix: 'palisade_' });
  }
}
