/**
 * etcd for end-to-end tests (Debian's etcd-server; `.ci/run` installs it): one member on loopback
 * ports of its own, and two API servers sharing it as HA servers do (one CA, one token file).
 * Tests skip (with a printed reason) when etcd is not installed.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { cpSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { startApiServerWithClient, type ApiServerProcess } from './apiserver.js';
import type { RawClient } from './http.js';
import { findOnPath, killAll } from './processes.js';
import { waitFor } from './wait-for.js';

/** The etcd binary on PATH, or undefined. */
export const etcdBinary = findOnPath('etcd');

/** A running etcd member. */
export interface EtcdProcess {
  child: ChildProcess;
  /** `http://127.0.0.1:PORT` of its client endpoint. */
  url: string;
}

/** Starts etcd with its data in `dataDir`, the client port at a random one of `portBase`..`portBase`+1999 (the peer port above it); resolves once it is healthy. */
export async function startEtcd(dataDir: string, portBase: number): Promise<EtcdProcess> {
  const port = portBase + Math.floor(Math.random() * 2000);
  const url = `http://127.0.0.1:${port}`;
  const peer = `http://127.0.0.1:${port + 1}`;
  const child = spawn(etcdBinary!, ['--data-dir', dataDir, '--listen-client-urls', url, '--advertise-client-urls', url, '--listen-peer-urls', peer, '--initial-advertise-peer-urls', peer, '--initial-cluster', `default=${peer}`, '--log-level', 'error'], { stdio: 'ignore' });
  await waitFor('etcd', async () => (await fetch(`${url}/health`)).ok, { timeoutMs: 20_000 });
  return { child, url };
}

/** Two API servers (`a`, `b`, with clients `ca`, `cb`) on one etcd, in `dir`'s `etcd`, `a` and `b`. */
export class ApiServersOnEtcd {
  etcd?: EtcdProcess;
  a!: ApiServerProcess;
  b!: ApiServerProcess;
  ca!: RawClient;
  cb!: RawClient;

  /** Starts etcd (see `startEtcd` for `portBase`), then `a`, then `b` with `a`'s CA and tokens. */
  async start(dir: string, portBase: number): Promise<this> {
    this.etcd = await startEtcd(join(dir, 'etcd'), portBase);
    const args = { extraArgs: ['--etcd-servers', this.etcd.url] };
    ({ server: this.a, client: this.ca } = await startApiServerWithClient(join(dir, 'a'), args));
    // The second server shares the first one's CA and tokens, as HA servers must.
    mkdirSync(join(dir, 'b'), { recursive: true });
    cpSync(join(dir, 'a', 'pki'), join(dir, 'b', 'pki'), { recursive: true });
    cpSync(join(dir, 'a', 'tokens.csv'), join(dir, 'b', 'tokens.csv'));
    ({ server: this.b, client: this.cb } = await startApiServerWithClient(join(dir, 'b'), args));
    return this;
  }

  /** Closes the clients, stops both servers, kills what the test started and etcd. */
  async stop(): Promise<void> {
    this.ca?.close();
    this.cb?.close();
    await this.a?.stop();
    await this.b?.stop();
    await killAll();
    this.etcd?.child.kill('SIGKILL');
  }
}
