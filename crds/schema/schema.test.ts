import assert from 'node:assert/strict';
import { arrayOf, int, objectOf, oneOf, str } from './schema.ts';

interface Sample {
  name: string;
  size?: number;
  mode: 'fast' | 'safe';
}

const name = () => str({ description: 'n', maxLength: 10 });
const size = () => int({ description: 's' });
const mode = () => oneOf(['fast', 'safe'] as const, { description: 'm' });

describe('schema builders', () => {
  it('build an object schema whose properties, required list and defaults follow the interface', () => {
    const s = objectOf<Sample>()({
      description: 'd',
      properties: {
        name: name(),
        size: size(),
        mode: oneOf(['fast', 'safe'], { description: 'm', default: 'safe' }),
      },
      required: ['name'],
    });
    assert.deepEqual(s, {
      description: 'd',
      type: 'object',
      properties: {
        name: { description: 'n', type: 'string', maxLength: 10 },
        size: { description: 's', type: 'integer', format: 'int64' },
        mode: { description: 'm', type: 'string', enum: ['fast', 'safe'], default: 'safe' },
      },
      required: ['name'],
    });
  });

  it('put keys in one fixed order and leave out unset ones', () => {
    const s = arrayOf(str({ maxLength: 3, description: 'x', rules: [] }), { maxItems: 2, description: 'xs' });
    assert.deepEqual(Object.keys(s), ['description', 'type', 'maxItems', 'items']);
  });

  // The cases below are checked by the compiler (npm run typecheck): each line must fail to compile.
  it('reject, at compile time, schemas that disagree with their interface', () => {
    const build = objectOf<Sample>();
    const p = { name: name(), size: size(), mode: mode() };
    const both = ['name', 'mode'] as const;
    const slow = oneOf(['fast', 'slow'], { description: '' });
    const one = int({ description: '', default: 1 });
    build({ description: '', properties: p, required: both }); // the correct one
    // @ts-expect-error a property the interface does not have
    build({ description: '', properties: { ...p, extra: name() }, required: both });
    // @ts-expect-error a property of the interface is missing
    build({ description: '', properties: { name: name(), mode: mode() }, required: both });
    // @ts-expect-error a string schema for a number
    build({ description: '', properties: { ...p, size: name() }, required: both });
    // @ts-expect-error an enum that is not the interface's union
    build({ description: '', properties: { ...p, mode: slow }, required: both });
    // @ts-expect-error a non-optional property neither required nor defaulted
    build({ description: '', properties: p, required: ['name'] });
    // @ts-expect-error an optional property listed as required
    build({ description: '', properties: p, required: ['name', 'mode', 'size'] });
    // @ts-expect-error an optional property with a default (it could never be absent)
    build({ description: '', properties: { ...p, size: one }, required: both });
  });
});
