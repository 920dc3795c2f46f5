import assert from 'node:assert/strict';
import { BindingPurpose, binding, encodeBinding, tenantKeyBinding, type Binding } from './binding.ts';
import { toHex } from './testdata/fixtures.ts';

const PLACE = {
  tenantUID: '0123456789ab',
  keyName: 'primary',
  keyUID: '00000000-0000-4000-8000-000000000001',
  version: 1,
};

describe('binding encoding', () => {
  it('encodes a tenant key binding to the pinned canonical bytes', () => {
    assert.equal(
      toHex(encodeBinding(tenantKeyBinding(PLACE))),
      '1370616c69736164652d62696e64696e672d76310a74656e616e742d6b657904076b65794e616d6500077072696d617279066b6579554944' +
        '002430303030303030302d303030302d343030302d383030302d3030303030303030303030310974656e616e74554944000c3031323334' +
        '353637383961620776657273696f6e000131',
    );
  });

  it('does not depend on the order fields are given in', () => {
    const a = binding('x', { a: '1', b: '2', c: '3' });
    const b = binding('x', { c: '3', a: '1', b: '2' });
    assert.equal(toHex(encodeBinding(a)), toHex(encodeBinding(b)));
  });

  it('encodes bindings that would collide under plain concatenation differently', () => {
    const pairs: Array<[Binding, Binding]> = [
      [binding('x', { a: 'bc' }), binding('x', { ab: 'c' })],
      [binding('x', { a: '', b: 'c' }), binding('x', { a: 'c', b: '' })],
      [binding('x', { a: 'b' }), binding('x', { a: 'b', c: '' })],
      [binding('x', {}), binding('xa', {})],
      [binding(BindingPurpose.TenantKey, {}), binding(BindingPurpose.NatsAccountSeed, {})],
    ];
    for (const [l, r] of pairs) {
      assert.notEqual(toHex(encodeBinding(l)), toHex(encodeBinding(r)));
    }
  });

  it('refuses bindings that cannot be encoded canonically with BadBinding', () => {
    const bad: Array<() => unknown> = [
      () => binding('', {}),
      () => binding('Tenant-Key', {}),
      () => binding('x'.repeat(65), {}),
      () => binding('x', { '1a': '' }),
      () => binding('x', { 'a b': '' }),
      () => binding('x', { a: '\ud800' }),
      () => binding('x', { a: 'é'.repeat(513) }),
      () => binding('x', Object.fromEntries(Array.from({ length: 33 }, (_, i) => [`f${i}`, '']))),
      () => tenantKeyBinding({ ...PLACE, tenantUID: '0123456789AB' }),
      () => tenantKeyBinding({ ...PLACE, keyName: '' }),
      () => tenantKeyBinding({ ...PLACE, keyUID: '' }),
      () => tenantKeyBinding({ ...PLACE, version: 0 }),
      () => tenantKeyBinding({ ...PLACE, version: 1.5 }),
    ];
    for (const fn of bad) assert.throws(fn, { name: 'EnvelopeError', code: 'BadBinding' });
  });

  it('accepts non-ASCII values and encodes them as UTF-8 with their byte length', () => {
    const enc = encodeBinding(binding('x', { n: 'ü' }));
    assert.equal(toHex(enc.subarray(enc.length - 6)), '016e0002c3bc');
  });
});
