import assert from 'node:assert/strict';
import { applyJsonPatch, JsonPatchError } from './jsonpatch.ts';

// Examples from RFC 6902 appendix A, and the operations Palisade's finalizer helpers send.
describe('JSON patch (the in-memory apiserver)', () => {
  const cases: [string, unknown, object[], unknown][] = [
    [
      'adds an object member',
      { foo: 'bar' },
      [{ op: 'add', path: '/baz', value: 'qux' }],
      { foo: 'bar', baz: 'qux' },
    ],
    [
      'inserts into an array',
      { foo: ['bar', 'baz'] },
      [{ op: 'add', path: '/foo/1', value: 'qux' }],
      { foo: ['bar', 'qux', 'baz'] },
    ],
    ['appends with -', { f: ['a'] }, [{ op: 'add', path: '/f/-', value: 'b' }], { f: ['a', 'b'] }],
    ['removes an array element', { f: ['a', 'b'] }, [{ op: 'remove', path: '/f/0' }], { f: ['b'] }],
    [
      'replaces a value',
      { baz: 'qux', foo: 'bar' },
      [{ op: 'replace', path: '/baz', value: 'boo' }],
      { baz: 'boo', foo: 'bar' },
    ],
    [
      'moves a value',
      { foo: { bar: 'baz', waldo: 'fred' }, qux: { corge: 'grault' } },
      [{ op: 'move', from: '/foo/waldo', path: '/qux/thud' }],
      { foo: { bar: 'baz' }, qux: { corge: 'grault', thud: 'fred' } },
    ],
    [
      'copies a value',
      { a: { b: 1 } },
      [{ op: 'copy', from: '/a', path: '/c' }],
      { a: { b: 1 }, c: { b: 1 } },
    ],
    [
      'unescapes ~1 and ~0',
      { 'a/b': 1, 'm~n': 2 },
      [
        { op: 'remove', path: '/a~1b' },
        { op: 'remove', path: '/m~0n' },
      ],
      {},
    ],
    [
      'passes a test of an equal value',
      { f: ['a', 'b'] },
      [
        { op: 'test', path: '/f', value: ['a', 'b'] },
        { op: 'remove', path: '/f/1' },
      ],
      { f: ['a'] },
    ],
  ];
  for (const [sentence, doc, ops, want] of cases)
    it(sentence, () => assert.deepEqual(applyJsonPatch(doc, ops), want));

  const failing: [string, unknown, object[]][] = [
    [
      'fails a test of another value, and applies nothing',
      { f: ['a'] },
      [
        { op: 'remove', path: '/f/0' },
        { op: 'test', path: '/f/0', value: 'a' },
      ],
    ],
    ['fails to remove what is not there', { f: [] }, [{ op: 'remove', path: '/f/0' }]],
    ['fails to add below a missing parent', {}, [{ op: 'add', path: '/a/b', value: 1 }]],
    ['fails on an index past the end', { f: ['a'] }, [{ op: 'add', path: '/f/2', value: 'b' }]],
  ];
  for (const [sentence, doc, ops] of failing)
    it(sentence, () => {
      const before = structuredClone(doc);
      assert.throws(() => applyJsonPatch(doc, ops), JsonPatchError);
      assert.deepEqual(doc, before);
    });
});
