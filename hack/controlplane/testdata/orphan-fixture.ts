// Starts a control plane, prints its pids and dirs as one JSON line, then idles until killed.
// Used by controlplane.int.test.ts to prove that SIGKILLing the starter leaves nothing behind.
import { readlink } from 'node:fs/promises';
import path from 'node:path';
import { startControlPlane } from '../index.ts';

const cp = await startControlPlane({ controllerManager: false, nats: true });
const etcdData = await readlink(path.join(cp.dir, 'etcd-data')).catch(() => '');
console.log(JSON.stringify({ pids: cp.pids(), dir: cp.dir, etcdData }));
setInterval(() => {}, 60_000);
