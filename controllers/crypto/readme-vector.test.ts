/**
 * The README's envelope specification ("### The envelope format") and its known-answer vector.
 *
 * `reference` below is an independent implementation written from the README text alone, on the
 * primitives directly (no code of this package): if it reproduces the README's bytes and the project's
 * `unwrap` opens them, the README is precise enough to interoperate with.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { xchacha20poly1305 } from '@noble/ciphers/chacha.js';
import { hmac } from '@noble/hashes/hmac.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { tenantKeyBinding } from './binding.ts';
import { keyringOf, unwrap, wrap, wrappingKeyRef } from './envelope.ts';

const MARKER = '<!-- palisade-envelope-vector';

/** The vector's fields by label, read from the fenced block after the marker in README.md. */
function readmeVector(): Map<string, string> {
  const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
  const at = readme.indexOf(MARKER);
  assert.ok(at >= 0, `README.md has no ${MARKER} marker`);
  const block = /```text\n([\s\S]*?)```/.exec(readme.slice(at));
  assert.ok(block?.[1], 'no ```text block after the vector marker');
  const fields = new Map<string, string>();
  let last = '';
  for (const raw of block[1].split('\n')) {
    const line = raw.replace(/#.*$/, '').trimEnd();
    if (line.trim() === '') continue;
    if (/^\s/.test(line)) {
      fields.set(last, `${fields.get(last) ?? ''} ${line.trim()}`);
      continue;
    }
    const m = /^(\S+(?: \S+)*)\s{2,}(.*)$/.exec(line);
    assert.ok(m?.[1] !== undefined && m[2] !== undefined, `unreadable vector line: ${raw}`);
    last = m[1];
    fields.set(last, m[2]);
  }
  return fields;
}

const vector = readmeVector();

function text(label: string): string {
  const v = vector.get(label);
  assert.ok(v !== undefined, `the README vector has no "${label}"`);
  return v;
}

function bytes(label: string): Uint8Array {
  const h = text(label).replace(/\s+/g, '');
  assert.match(h, /^([0-9a-f]{2})+$/, `"${label}" is not hex`);
  return Uint8Array.from(Buffer.from(h, 'hex'));
}

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

/** The README's rules, implemented on their own. */
const reference = {
  u8(n: number): Uint8Array {
    return Uint8Array.of(n);
  },
  u16be(n: number): Uint8Array {
    return Uint8Array.of(n >> 8, n & 0xff);
  },
  u32be(n: number): Uint8Array {
    return Uint8Array.of(n >>> 24, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff);
  },
  cat(...parts: Uint8Array[]): Uint8Array {
    return Uint8Array.from(Buffer.concat(parts));
  },

  binding(purpose: string, fields: Record<string, string>): Uint8Array {
    const ascii = (s: string) => Uint8Array.from(Buffer.from(s, 'ascii'));
    const label = ascii('palisade-binding-v1');
    const names = Object.keys(fields).sort((a, b) => Buffer.compare(ascii(a), ascii(b)));
    const parts = [
      this.u8(label.length),
      label,
      this.u8(purpose.length),
      ascii(purpose),
      this.u8(names.length),
    ];
    for (const name of names) {
      const value = Uint8Array.from(Buffer.from(fields[name] ?? '', 'utf8'));
      parts.push(this.u8(name.length), ascii(name), this.u16be(value.length), value);
    }
    return this.cat(...parts);
  },

  keyId(rootKey: Uint8Array): Uint8Array {
    return hmac(sha256, rootKey, Buffer.from('palisade key id v1', 'ascii')).slice(0, 8);
  },

  header(rootKey: Uint8Array, rootVersion: number): Uint8Array {
    const magic = Uint8Array.of(0x50, 0x41, 0x4c, 0x4b);
    return this.cat(magic, this.u8(1), this.u32be(rootVersion), this.keyId(rootKey));
  },

  wrap(secret: Uint8Array, rootKey: Uint8Array, rootVersion: number, nonce: Uint8Array, binding: Uint8Array) {
    const header = this.header(rootKey, rootVersion);
    const sealed = xchacha20poly1305(rootKey, nonce, this.cat(header, binding)).encrypt(secret);
    return this.cat(header, nonce, sealed);
  },

  unwrap(envelope: Uint8Array, rootKey: Uint8Array, binding: Uint8Array): Uint8Array {
    const header = envelope.subarray(0, 17);
    const nonce = envelope.subarray(17, 41);
    return xchacha20poly1305(rootKey, nonce, this.cat(header, binding)).decrypt(envelope.subarray(41));
  },
};

const rootKey = bytes('root key');
const rootVersion = Number(text('root key version'));
const dataKey = bytes('data key');
const nonce = bytes('nonce');
const place = {
  tenantUID: text('tenant UID'),
  keyName: text('key name'),
  keyUID: text('key lineage UID'),
  version: Number(text('key version')),
};
const fields = {
  tenantUID: place.tenantUID,
  keyName: place.keyName,
  keyUID: place.keyUID,
  version: String(place.version),
};

describe('README envelope vector', () => {
  describe('an implementation written from the README alone', () => {
    it('derives the README’s root key ID', () => {
      assert.equal(hex(reference.keyId(rootKey)), hex(bytes('root key ID')));
    });

    it('encodes the README’s binding bytes', () => {
      assert.equal(hex(reference.binding('tenant-key', fields)), hex(bytes('binding')));
    });

    it('produces exactly the README’s envelope bytes', () => {
      const binding = reference.binding('tenant-key', fields);
      assert.equal(
        hex(reference.wrap(dataKey, rootKey, rootVersion, nonce, binding)),
        hex(bytes('envelope')),
      );
    });

    it('unwraps the README’s envelope to the data key', () => {
      const binding = reference.binding('tenant-key', fields);
      assert.equal(hex(reference.unwrap(bytes('envelope'), rootKey, binding)), hex(dataKey));
    });

    it('lays the envelope out at the README’s offsets', () => {
      const envelope = bytes('envelope');
      assert.equal(envelope.length, 57 + dataKey.length);
      assert.equal(Buffer.from(envelope.subarray(0, 4)).toString('ascii'), 'PALK');
      assert.equal(envelope[4], 1);
      assert.equal(Buffer.from(envelope).readUInt32BE(5), rootVersion);
      assert.equal(hex(envelope.subarray(9, 17)), hex(bytes('root key ID')));
      assert.equal(hex(envelope.subarray(17, 41)), hex(nonce));
    });
  });

  describe('the project’s own code', () => {
    it('unwraps the README’s envelope to the data key', () => {
      const keyring = keyringOf(new Map([[rootVersion, rootKey]]));
      assert.equal(hex(unwrap(bytes('envelope'), keyring, tenantKeyBinding(place))), hex(dataKey));
    });

    it('wraps the README’s data key into the README’s envelope given the README’s nonce', () => {
      const envelope = wrap(
        dataKey,
        rootKey,
        wrappingKeyRef(rootVersion, rootKey),
        tenantKeyBinding(place),
        () => nonce.slice(),
      );
      assert.equal(hex(envelope), hex(bytes('envelope')));
    });
  });
});
