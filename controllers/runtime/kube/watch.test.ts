import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import http2 from 'node:http2';
import { ApiError } from './errors.ts';
import { OpenWatch } from './watch.ts';

/** A stand-in for an HTTP/2 stream: what OpenWatch listens to and calls. */
class FakeStream extends EventEmitter {
  closed = false;
  closedWith: number | undefined;
  setEncoding(): this {
    return this;
  }
  close(code: number): void {
    this.closed = true;
    this.closedWith = code;
  }
}

function open(transform: (o: unknown) => unknown = (o) => o) {
  const events: [string, unknown][] = [];
  const dones: unknown[] = [];
  const stream = new FakeStream();
  let released = 0;
  let unauthorized = 0;
  const w = new OpenWatch(
    transform,
    (phase, obj) => events.push([phase, obj]),
    (err) => dones.push(err),
  );
  w.attach(
    stream as unknown as http2.ClientHttp2Stream,
    () => released++,
    () => unauthorized++,
  );
  return { w, stream, events, dones, released: () => released, unauthorized: () => unauthorized };
}

const line = (type: string, name: string) => `${JSON.stringify({ type, object: { metadata: { name } } })}\n`;

describe('runtime/kube/watch: one watch read off its stream', () => {
  it('delivers events split across chunks and several in one chunk, in order and transformed; the server ending the watch is done(null)', async () => {
    const t = open((o) => ({ seen: (o as { metadata: { name: string } }).metadata.name }));
    t.stream.emit('response', { ':status': 200 });
    await t.w.answered;
    const a = line('ADDED', 'a');
    t.stream.emit('data', a.slice(0, 10));
    t.stream.emit('data', a.slice(10, 20));
    t.stream.emit('data', a.slice(20) + line('MODIFIED', 'a') + line('BOOKMARK', 'b').slice(0, 5));
    t.stream.emit('data', line('BOOKMARK', 'b').slice(5));
    t.stream.emit('end');
    t.stream.emit('close');
    assert.deepEqual(t.events, [
      ['ADDED', { seen: 'a' }],
      ['MODIFIED', { seen: 'a' }],
      ['BOOKMARK', { seen: 'b' }],
    ]);
    assert.deepEqual(t.dones, [null]);
    assert.equal(t.released(), 1);
  });

  it('ends a refused watch with an ApiError carrying the HTTP code and the Status reason; a 401 asks for fresh credentials', () => {
    const t = open();
    t.stream.emit('response', { ':status': 401 });
    t.stream.emit('data', '{"kind":"Status","reason":"Unauthorized","message":"Unauthorized"}');
    t.stream.emit('end');
    const [err] = t.dones;
    assert.ok(err instanceof ApiError);
    assert.deepEqual([err.code, err.reason, t.unauthorized(), t.dones.length], [401, 'Unauthorized', 1, 1]);
  });

  it('ends the watch with an error on a line that is not JSON, once, and reads nothing after it', () => {
    const t = open();
    t.stream.emit('response', { ':status': 200 });
    t.stream.emit('data', 'not json\n' + line('ADDED', 'late'));
    t.stream.emit('close');
    assert.equal(t.dones.length, 1);
    assert.match(String(t.dones[0]), /not JSON/);
    assert.deepEqual(t.events, []);
    assert.equal(t.stream.closedWith, http2.constants.NGHTTP2_CANCEL);
  });

  it('reports a stream closed without an end as an error, and an abort not at all', () => {
    const broken = open();
    broken.stream.emit('response', { ':status': 200 });
    broken.stream.emit('close');
    assert.match(String(broken.dones[0]), /closed before it ended/);

    const aborted = open();
    aborted.stream.emit('response', { ':status': 200 });
    aborted.w.abort();
    aborted.stream.emit('close');
    assert.deepEqual(aborted.dones, []);
    assert.equal(aborted.stream.closedWith, http2.constants.NGHTTP2_CANCEL);
    assert.equal(aborted.released(), 1);
  });
});
