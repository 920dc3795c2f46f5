import assert from 'node:assert/strict';
import { ApiError } from '../kube/errors.ts';
import { parseSelector } from './selector.ts';

describe('label selectors (the in-memory apiserver)', () => {
  const labels = { app: 'web', tier: '2', 'palisade.dev/tenant': 'acme' };
  const cases: [string, boolean][] = [
    ['', true],
    ['app', true],
    ['!app', false],
    ['app=web', true],
    ['app==web', true],
    ['app!=web', false],
    ['missing!=x', true],
    ['app in (api, web)', true],
    ['app notin (web)', false],
    ['missing notin (web)', true],
    ['palisade.dev/tenant=acme,tier', true],
    ['palisade.dev/tenant=acme,!tier', false],
    ['tier>1', true],
    ['tier<2', false],
    ['app=', false],
  ];
  for (const [selector, matches] of cases)
    it(`${matches ? 'matches' : 'does not match'} ${JSON.stringify(selector)}`, () =>
      assert.equal(parseSelector(selector)(labels), matches));

  for (const bad of ['app=a b', 'app in (a', ',app', 'app in (a,b c)', '=x'])
    it(`refuses ${JSON.stringify(bad)} with 400 BadRequest`, () =>
      assert.throws(
        () => parseSelector(bad),
        (e: unknown) => e instanceof ApiError && e.code === 400,
      ));
});
