/**
 * OpenStack Swift with its S3 API (s3api), on loopback, as a second, independent S3
 * implementation for the sweep faults: one proxy, one object, container and account server each,
 * a single replica, tempauth, memcached; everything in a folder of the suite's own, on free ports.
 * Debian installs it with: apt-get install swift-proxy swift-object swift-container swift-account memcached
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import type { FaultStore } from './stores.js';
import { freePort } from '../src/net.js';

const PROGRAMS = ['swift-proxy-server', 'swift-object-server', 'swift-container-server', 'swift-account-server', 'swift-ring-builder', 'memcached'];

/** Why Swift cannot run here, or undefined. */
export function swiftMissing(): string | undefined {
  const missing = PROGRAMS.filter((p) => !['/usr/bin', '/usr/sbin', '/usr/local/bin'].some((d) => existsSync(join(d, p))));
  return missing.length ? `skipped: ${missing.join(', ')} not installed (apt-get install swift-proxy swift-object swift-container swift-account memcached)` : undefined;
}


/** Resolves when the endpoint answers HTTP at all. */
async function answering(endpoint: string, ms: number): Promise<void> {
  const t0 = Date.now();
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const req = request(endpoint, { method: 'HEAD', timeout: 2000 }, (res) => {
        res.resume();
        resolve(true);
      });
      req.on('error', () => resolve(false));
      req.on('timeout', () => req.destroy());
      req.end();
    });
    if (ok) return;
    if (Date.now() - t0 > ms) throw new Error(`Swift did not answer at ${endpoint} within ${ms / 1000} s`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

function serverConf(dir: string, kind: string, port: number): string {
  return `[DEFAULT]\ndevices = ${join(dir, 'node')}\nmount_check = false\nbind_ip = 127.0.0.1\nbind_port = ${port}\nworkers = 1\nuser = ${process.env.USER ?? 'root'}\nswift_dir = ${dir}\n[pipeline:main]\npipeline = ${kind}-server\n[app:${kind}-server]\nuse = egg:swift#${kind}\n[${kind}-replicator]\n[${kind}-updater]\n[${kind}-auditor]\n`;
}

function proxyConf(dir: string, port: number, memcached: number): string {
  return `[DEFAULT]\nbind_ip = 127.0.0.1\nbind_port = ${port}\nworkers = 1\nuser = ${process.env.USER ?? 'root'}\nswift_dir = ${dir}\n[pipeline:main]\npipeline = catch_errors proxy-logging cache s3api tempauth proxy-logging proxy-server\n[app:proxy-server]\nuse = egg:swift#proxy\naccount_autocreate = true\n[filter:tempauth]\nuse = egg:swift#tempauth\nuser_faults_tester = faults-swift-secret .admin\n[filter:s3api]\nuse = egg:swift#s3api\nlocation = us-east-1\n[filter:cache]\nuse = egg:swift#memcache\nmemcache_servers = 127.0.0.1:${memcached}\n[filter:catch_errors]\nuse = egg:swift#catch_errors\n[filter:proxy-logging]\nuse = egg:swift#proxy_logging\n`;
}

/** Starts Swift in `dir`; the store's kill() kills the proxy (the S3 endpoint) and start() starts it again. */
export async function startSwift(dir: string): Promise<FaultStore> {
  mkdirSync(join(dir, 'node', 'sdb1'), { recursive: true });
  writeFileSync(join(dir, 'swift.conf'), '[swift-hash]\nswift_hash_path_suffix = faults\nswift_hash_path_prefix = faults\n[storage-policy:0]\nname = gold\ndefault = yes\n');
  const [proxy, memcached, ...ports] = await Promise.all([freePort(), freePort(), freePort(), freePort(), freePort()]);
  const kinds = ['object', 'container', 'account'];
  kinds.forEach((kind, k) => {
    const conf = join(dir, `${kind}-server.conf`);
    writeFileSync(conf, serverConf(dir, kind, ports[k]!));
    const builder = join(dir, `${kind}.builder`);
    for (const args of [['create', '4', '1', '1'], ['add', `r1z1-127.0.0.1:${ports[k]}/sdb1`, '1'], ['rebalance']]) {
      spawnSync('swift-ring-builder', [builder, ...args], { stdio: 'ignore' });
    }
  });
  writeFileSync(join(dir, 'proxy-server.conf'), proxyConf(dir, proxy!, memcached!));
  // Each one leads a process group of its own, so that it and its workers are stopped by that id.
  const launch = (cmd: string, args: string[]) => spawn(cmd, args, { detached: true, stdio: 'ignore' });
  const background: ChildProcess[] = [launch('memcached', ['-u', process.env.USER ?? 'root', '-l', '127.0.0.1', '-p', String(memcached)]), ...kinds.map((k) => launch(`swift-${k}-server`, [join(dir, `${k}-server.conf`)]))];
  let proxyProcess: ChildProcess | undefined;
  const endpoint = `http://127.0.0.1:${proxy}`;
  const killGroup = (c: ChildProcess | undefined) => {
    if (c?.pid === undefined) return;
    try {
      process.kill(-c.pid, 'SIGKILL');
    } catch {
      // Already gone.
    }
  };
  const store: FaultStore = {
    name: 'OpenStack Swift s3api',
    endpoint,
    accessKey: 'faults:tester',
    secretKey: 'faults-swift-secret',
    kill: async () => {
      killGroup(proxyProcess);
      proxyProcess = undefined;
      await new Promise((r) => setTimeout(r, 200));
    },
    start: async () => {
      proxyProcess = launch('swift-proxy-server', [join(dir, 'proxy-server.conf')]);
      await answering(endpoint, 90_000);
    },
    stop: async () => {
      killGroup(proxyProcess);
      for (const c of background) killGroup(c);
    },
  };
  try {
    await store.start();
  } catch (err) {
    await store.stop();
    throw err;
  }
  return store;
}
