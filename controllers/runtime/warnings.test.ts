import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

describe('withoutIpServerNameWarning', () => {
  it("drops Node's warning about an IP address as TLS server name, and prints every other warning", async () => {
    const module = fileURLToPath(new URL('./warnings.ts', import.meta.url));
    const script = `
      const { withoutIpServerNameWarning } = await import(${JSON.stringify(module)});
      withoutIpServerNameWarning();
      process.emitWarning('Setting the TLS ServerName to an IP address', { type: 'DeprecationWarning', code: 'DEP0123' });
      process.emitWarning('something else', { type: 'DeprecationWarning', code: 'DEP0999' });
      process.emitWarning('a plain warning');`;
    const { stderr } = await promisify(execFile)(process.execPath, ['--input-type=module', '-e', script]);
    assert.doesNotMatch(stderr, /DEP0123|ServerName/);
    assert.match(stderr, /\[DEP0999\] DeprecationWarning: something else/);
    assert.match(stderr, /Warning: a plain warning/);
  });
});
