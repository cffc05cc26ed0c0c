/**
 * Starts a real `flotilla-apiserver` process on a free port with its own data directory, and gives
 * tests what they need to talk to it (URL, CA, admin token, kubeconfig path).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { RawClient } from './http.js';
import { binPath, killAll, startProcess, type RunningProcess } from './processes.js';

/** A running API server process. */
export interface ApiServerProcess {
  process: RunningProcess;
  url: string;
  port: number;
  dataDir: string;
  kubeconfig: string;
  caPem: string;
  token: string;
  /** SIGTERM and wait. */
  stop(): Promise<void>;
  /** SIGKILL and wait (crash). */
  kill(): Promise<void>;
}

/** Starts the API server; `port` 0 picks a free one. */
export async function startApiServer(dataDir: string, options: { port?: number; extraArgs?: string[] } = {}): Promise<ApiServerProcess> {
  const proc = startProcess(binPath('apiserver', 'flotilla-apiserver'), ['--data-dir', dataDir, '--secure-port', String(options.port ?? 0), '--log-level', 'warn', ...(options.extraArgs ?? [])]);
  const m = await proc.waitForOutput(/listening on (https:\/\/\S+)/, 60_000);
  const url = m[1]!;
  const kubeconfig = join(dataDir, 'admin.kubeconfig');
  const kc = readFileSync(kubeconfig, 'utf8');
  const token = /token: (\S+)/.exec(kc)![1]!;
  const caPem = readFileSync(join(dataDir, 'pki', 'ca.crt'), 'utf8');
  return {
    process: proc,
    url,
    port: Number(new URL(url).port),
    dataDir,
    kubeconfig,
    caPem,
    token,
    stop: async () => {
      await proc.stop('SIGTERM');
    },
    kill: async () => {
      await proc.stop('SIGKILL');
    },
  };
}

/** Starts the API server in `dataDir` and opens a `RawClient` to it (admin token, its CA). */
export async function startApiServerWithClient(dataDir: string, options: { port?: number; extraArgs?: string[] } = {}): Promise<{ server: ApiServerProcess; client: RawClient }> {
  const server = await startApiServer(dataDir, options);
  return { server, client: new RawClient(server.url, server.caPem, server.token) };
}

/** The end of a test with one API server: closes the client, stops the server, kills what the test started and removes its directory (each one that exists). */
export async function stopApiServerWithClient(started: { client?: RawClient; server?: ApiServerProcess; dir?: { remove(): void } }): Promise<void> {
  started.client?.close();
  await started.server?.stop();
  await killAll();
  started.dir?.remove();
}
