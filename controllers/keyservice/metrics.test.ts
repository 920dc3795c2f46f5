import assert from 'node:assert/strict';
import { Registry } from 'prom-client';
import { keyServiceMetrics } from './metrics.ts';

describe('key service metrics', () => {
  it('count calls by method and code and time them by method', async () => {
    const registry = new Registry();
    const observe = keyServiceMetrics(registry);
    observe('Encrypt', 'OK', 0.0002);
    observe('Encrypt', 'OK', 0.003);
    observe('Encrypt', 'PermissionDenied', 0.0001);
    observe('Decrypt', 'OK', 0.0004);
    const text = await registry.metrics();
    assert.match(text, /palisade_keyservice_requests_total\{method="Encrypt",code="OK"\} 2/);
    assert.match(text, /palisade_keyservice_requests_total\{method="Encrypt",code="PermissionDenied"\} 1/);
    assert.match(text, /palisade_keyservice_requests_total\{method="Decrypt",code="OK"\} 1/);
    assert.match(text, /palisade_keyservice_request_duration_seconds_count\{method="Encrypt"\} 3/);
    assert.match(
      text,
      /palisade_keyservice_request_duration_seconds_bucket\{le="0.00025",method="Encrypt"\} 2/,
    );
    assert.match(text, /palisade_keyservice_request_duration_seconds_count\{method="Decrypt"\} 1/);
  });
});
