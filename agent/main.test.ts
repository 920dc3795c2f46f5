import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { spkiFingerprint } from '../controllers/agentchannel/identity.ts';
import { createCA } from '../controllers/pki/index.ts';
import { startFakePalisade, type FakePalisade } from './testdata/server.ts';

const MAIN = fileURLToPath(new URL('./main.ts', import.meta.url));
const CODE = 'K7QP-4MZX';

/** Runs the agent as a process; resolves with its exit code and output. */
function agent(
  args: string[],
  env: Record<string, string> = {},
): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [MAIN, ...args], { env: { ...process.env, ...env } }, (e, stdout, stderr) =>
      resolve({ code: e ? (e.code as number | null) : 0, out: stdout + stderr }),
    );
  });
}

describe('palisade-agent as a process', function () {
  this.timeout(60_000);
  let palisade: FakePalisade;
  let dir: string;

  beforeEach(async () => {
    palisade = await startFakePalisade({ code: CODE });
    dir = await mkdtemp(path.join(os.tmpdir(), 'palisade-main-'));
  });
  afterEach(async () => {
    await palisade.stop();
    await rm(dir, { recursive: true, force: true });
  });

  const pairArgs = () => [
    'pair',
    '--server',
    palisade.address,
    '--ca-fingerprint',
    palisade.pin,
    '--credentials-dir',
    dir,
  ];

  it('pairs with a code from a file, then with --if-unpaired leaves the stored credentials alone', async () => {
    const codeFile = path.join(os.tmpdir(), `code-${process.pid}`);
    await writeFile(codeFile, `${CODE}\n`);
    const first = await agent([...pairArgs(), '--code-file', codeFile]);
    await rm(codeFile);
    assert.equal(first.code, 0, first.out);
    assert.match(first.out, /paired as ClusterAgent tenant-acme\/edge of tenant acme \(code ID C0DE1D\)/);
    assert.ok(!first.out.includes(CODE), 'the code is never printed');
    const again = await agent([...pairArgs(), '--if-unpaired']);
    assert.equal(again.code, 0, again.out);
    assert.match(again.out, /already paired/);
    assert.equal(palisade.seen.pairs.length, 1);
  });

  it('exits 3 when the code is refused, and 4 when the CA does not match the fingerprint', async () => {
    const refused = await agent(pairArgs(), { PALISADE_PAIRING_CODE: 'WRONG-CODE' });
    assert.equal(refused.code, 3, refused.out);
    assert.match(refused.out, /pairing refused/);
    const day = 86_400_000;
    const other = await createCA({
      subject: 'CN=Other',
      notBefore: new Date(Date.now() - day),
      notAfter: new Date(Date.now() + day),
      rand: (n) => new Uint8Array(randomBytes(n)),
    });
    const args = pairArgs();
    args[args.indexOf(palisade.pin)] = spkiFingerprint(other.certPem);
    const impostor = await agent(args, { PALISADE_PAIRING_CODE: CODE });
    assert.equal(impostor.code, 4, impostor.out);
    assert.deepEqual(await readdir(dir), []);
  });

  it('exits 2 on usage errors, naming what is missing', async () => {
    const r = await agent(['pair', '--server', palisade.address, '--credentials-dir', dir]);
    assert.equal(r.code, 2);
    assert.match(r.out, /--ca-fingerprint/);
    const c = await agent(['run', '--credentials-dir', dir, '--channels', 'grpc,carrier-pigeon']);
    assert.equal(c.code, 2);
    assert.match(c.out, /--channels/);
  });

  it('runs until Palisade refuses it, then exits 3', async () => {
    const paired = await agent(pairArgs(), { PALISADE_PAIRING_CODE: CODE });
    assert.equal(paired.code, 0, paired.out);
    const child = spawn(process.execPath, [MAIN, 'run', '--credentials-dir', dir, '--interval', '50ms'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
    const deadline = Date.now() + 20_000;
    while (palisade.seen.reports.length === 0 && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 20));
    assert.ok(palisade.seen.reports.length > 0, `reports arrived:\n${out}`);
    palisade.revoke();
    assert.equal(await exited, 3, out);
    assert.match(out, /credentials revoked or refused/);
  });
});
