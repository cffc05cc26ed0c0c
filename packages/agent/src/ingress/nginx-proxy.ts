/**
 * The node's Ingress proxy run by nginx (as ingress-nginx does): the agent renders the routing table,
 * backends and certificates into `DIR/nginx.conf` (nginx-config.ts), starts nginx as its child, and
 * on every change writes the new configuration, has `nginx -t` check it and sends the master SIGHUP.
 * A reload is graceful: new workers take new connections, old ones finish theirs. While it rolls
 * over (measured at tens of milliseconds), a new connection can still reach an old worker and get
 * the old routes, even after another got the new ones. Reloads are serialized and coalesced, at
 * most one per RELOAD_INTERVAL_MS. A configuration nginx rejects is logged and the running one kept.
 *
 * nginx moves the bytes in C: a proxied request costs it ~95 µs of CPU against ~345 µs in the
 * Node.js proxy (ingress-proxy.ts; bench/ingress-bench.mjs), which is why it is the default where
 * nginx is installed.
 *
 * Lifetime: nginx is started under `setpriv --pdeathsig SIGTERM` (util-linux), so it exits with the
 * agent even when the agent is killed -9; an nginx left from an earlier agent (its pid file in DIR,
 * its command line naming DIR) is stopped before a new one starts. An nginx that cannot start (a
 * port taken) or exits on its own is started again after 5 s, doubling to 5 min while it keeps
 * failing; the agent keeps running meanwhile.
 */
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { findExecutable } from '../find-executable.js';
import type { CertificatePem } from './certificate-store.js';
import { renderNginxConfig, type NginxConfigInput } from './nginx-config.js';

/**
 * At most one reload per second: a change after a quiet second applies at once, a burst (a rolling
 * update moving endpoints) is coalesced. Every reload leaves the old worker serving its open
 * connections for up to worker_shutdown_timeout (nginx-config.ts), so this also bounds those.
 */
const RELOAD_INTERVAL_MS = 1000;
const START_TIMEOUT_MS = 10_000;
const RETRY_MS = 5_000;
const MAX_RETRY_MS = 300_000;
const STOP_TIMEOUT_MS = 5_000;

/** What the configuration is rendered from, read at every reload. */
export type NginxRouteSource = () => Pick<NginxConfigInput, 'table' | 'upstreams' | 'certificate' | 'certificateHosts'>;

/** Settings of the nginx Ingress proxy. */
export interface NginxProxyOptions {
  /** The nginx binary. */
  binary: string;
  /** nginx's directory (configuration, pid file, certificates, temporary files); made if missing. */
  dir: string;
  /** Comma-separated listen addresses. */
  bindAddress: string;
  /** Ports; undefined leaves a listener closed, 0 picks a free port (the same on every address). */
  httpPort?: number;
  httpsPort?: number;
  routes: NginxRouteSource;
  logger: Logger;
  /** How long after a failed start, or an exit, nginx is started again (default 5 s; doubles while it keeps failing). */
  retryMs?: number;
}

/** Picks a free TCP port on `address`. */
async function freePort(address: string): Promise<number> {
  const s = createServer();
  await new Promise<void>((resolve, reject) => {
    s.once('error', reject);
    s.listen(0, address, resolve);
  });
  const port = (s.address() as AddressInfo).port;
  await new Promise((resolve) => s.close(resolve));
  return port;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function waitUntil(cond: () => boolean, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, 20));
  }
  return true;
}

/** The nginx Ingress proxy; same surface as IngressProxy plus `update()`. */
export class NginxIngressProxy {
  httpUrl: string | undefined;
  httpsUrl: string | undefined;
  private readonly addresses: string[];
  private readonly setpriv = findExecutable('setpriv');
  private httpPort: number | undefined;
  private httpsPort: number | undefined;
  private child: ChildProcess | undefined;
  private applied = '';
  private certificates = new Map<string, CertificatePem>();
  private closed = false;
  private dirty = false;
  private reloading: Promise<void> | undefined;
  private restartTimer: NodeJS.Timeout | undefined;
  /** Failed starts in a row (the retry delay doubles with each). */
  private failures = 0;
  private readonly log: Logger;

  constructor(private readonly options: NginxProxyOptions) {
    this.addresses = options.bindAddress.split(',').map((a) => a.trim()).filter(Boolean);
    this.log = options.logger.child({ proxy: 'nginx' });
  }

  private get confFile(): string {
    return join(this.options.dir, 'nginx.conf');
  }

  private get pidFile(): string {
    return join(this.options.dir, 'nginx.pid');
  }

  /** Renders the configuration and writes the certificates it names. */
  private render(): string {
    const certDir = join(this.options.dir, 'certs');
    const certificates = new Map<string, CertificatePem>();
    const text = renderNginxConfig({
      ...this.options.routes(),
      prefix: this.options.dir,
      addresses: this.addresses,
      httpPort: this.httpPort,
      httpsPort: this.httpsPort,
      certificateFile: (pem) => {
        const file = join(certDir, `${createHash('sha256').update(pem.cert).update('\0').update(pem.key).digest('hex').slice(0, 32)}.pem`);
        certificates.set(file, pem);
        return file;
      },
    });
    mkdirSync(certDir, { recursive: true, mode: 0o700 });
    for (const [file, pem] of certificates) {
      if (!existsSync(file)) writeFileSync(file, `${pem.cert.trimEnd()}\n${pem.key.trimEnd()}\n`, { mode: 0o600 });
    }
    this.certificates = certificates;
    return text;
  }

  /** Removes certificate files the applied configuration no longer names. */
  private pruneCertificates(): void {
    const certDir = join(this.options.dir, 'certs');
    for (const f of readdirSync(certDir)) if (!this.certificates.has(join(certDir, f))) rmSync(join(certDir, f), { force: true });
  }

  /** `nginx -t` of a configuration file: undefined when nginx accepts it, else its complaint. */
  private check(file: string): Promise<string | undefined> {
    return new Promise((resolve) => {
      execFile(this.options.binary, ['-t', '-q', '-p', this.options.dir, '-c', file, '-e', 'stderr'], { timeout: 30_000 }, (err, _stdout, stderr) => {
        resolve(err ? stderr.trim() || err.message : undefined);
      });
    });
  }

  /** Stops an nginx an earlier agent left running in this directory. */
  private async stopLeftover(): Promise<void> {
    let pid: number;
    try {
      pid = Number(readFileSync(this.pidFile, 'utf8').trim());
    } catch {
      return;
    }
    if (!Number.isInteger(pid) || pid <= 1 || !isAlive(pid)) return;
    let cmdline = '';
    try {
      cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    } catch {
      return;
    }
    if (!cmdline.includes('nginx') || !cmdline.includes(this.options.dir)) return;
    this.log.info({ pid }, 'stopping the nginx an earlier agent left');
    process.kill(pid, 'SIGTERM');
    if (!(await waitUntil(() => !isAlive(pid), STOP_TIMEOUT_MS))) process.kill(pid, 'SIGKILL');
  }

  /**
   * Starts nginx on the configured listeners. When it cannot (a port taken, an address not on this
   * host), the error is logged, the listeners stay closed (`httpUrl`/`httpsUrl` undefined) and it
   * tries again every `retryMs`, as the Node.js proxy leaves an unbindable listener closed and the
   * agent keeps running.
   */
  async listen(): Promise<void> {
    // Traversable: nginx's workers (user nobody when the agent is root) keep temporary files under it;
    // the certificates sit in certs/, readable by the owner only.
    mkdirSync(this.options.dir, { recursive: true, mode: 0o755 });
    await this.stopLeftover();
    const first = this.addresses[0] ?? '127.0.0.1';
    if (this.options.httpPort !== undefined) this.httpPort = this.options.httpPort || (await freePort(first));
    if (this.options.httpsPort !== undefined) this.httpsPort = this.options.httpsPort || (await freePort(first));
    await this.start().catch((err: unknown) => this.retryLater(err));
  }

  /** Renders, checks and writes the configuration, then starts nginx with it. */
  private async start(): Promise<void> {
    const text = this.render();
    writeFileSync(this.confFile, text);
    const problem = await this.check(this.confFile);
    if (problem) throw new Error(`nginx rejected the ingress configuration: ${problem}`);
    this.applied = text;
    await this.spawn();
    const first = this.addresses[0] ?? '127.0.0.1';
    const url = (scheme: string, port: number) => `${scheme}://${first.includes(':') ? `[${first}]` : first}:${port}`;
    if (this.httpPort !== undefined) this.httpUrl = url('http', this.httpPort);
    if (this.httpsPort !== undefined) this.httpsUrl = url('https', this.httpsPort);
    this.failures = 0;
    this.log.info({ pid: this.child?.pid, http: this.httpUrl, https: this.httpsUrl }, 'nginx ingress proxy started');
  }

  /**
   * Logs why nginx is not running and starts it again after `retryMs`, doubling while it keeps
   * failing (a port it may never get, say) up to MAX_RETRY_MS.
   */
  private retryLater(err: unknown): void {
    const retryMs = Math.min((this.options.retryMs ?? RETRY_MS) * 2 ** this.failures++, MAX_RETRY_MS);
    this.log.error({ err, retryMs }, 'nginx ingress proxy not running; trying again');
    this.restartTimer = setTimeout(() => {
      if (!this.closed) this.start().catch((e: unknown) => this.retryLater(e));
    }, retryMs);
  }

  private async spawn(): Promise<void> {
    rmSync(this.pidFile, { force: true });
    const args = ['-p', this.options.dir, '-c', this.confFile, '-e', 'stderr'];
    const child = this.setpriv
      ? spawn(this.setpriv, ['--pdeathsig', 'SIGTERM', '--', this.options.binary, ...args], { stdio: ['ignore', 'ignore', 'pipe'] })
      : spawn(this.options.binary, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    this.child = child;
    let stderr = '';
    child.stderr!.setEncoding('utf8');
    child.stderr!.on('data', (d: string) => {
      stderr = (stderr + d).slice(-4096);
      for (const line of d.split('\n')) if (line.trim()) this.log.warn({ nginx: line.trim() }, 'nginx');
    });
    let exited = false;
    let running = false;
    child.on('error', (err) => this.log.error({ err }, 'nginx could not be started'));
    child.on('exit', (code, signal) => {
      exited = true;
      if (this.child !== child) return;
      this.child = undefined;
      if (this.closed || !running) return;
      this.retryLater(new Error(`nginx exited (code ${code}, signal ${signal})`));
    });
    // nginx writes its pid file once it has bound its listeners.
    const started = await waitUntil(() => exited || (existsSync(this.pidFile) && readFileSync(this.pidFile, 'utf8').trim() === String(child.pid)), START_TIMEOUT_MS);
    if (exited || !started) {
      if (!exited) child.kill('SIGKILL');
      this.child = undefined;
      throw new Error(`nginx did not start: ${stderr.trim() || 'timed out'}`);
    }
    running = true;
  }

  /** Re-renders the configuration and reloads nginx when it changed (coalesced, serialized). */
  update(): void {
    this.dirty = true;
    this.reloading ??= this.reloadLoop().finally(() => (this.reloading = undefined));
  }

  private async reloadLoop(): Promise<void> {
    while (this.dirty && !this.closed) {
      this.dirty = false;
      try {
        await this.reload();
      } catch (err) {
        this.log.error({ err }, 'ingress configuration not applied');
      }
      await new Promise((r) => setTimeout(r, RELOAD_INTERVAL_MS));
    }
  }

  private async reload(): Promise<void> {
    const text = this.render();
    if (text === this.applied) return;
    const next = `${this.confFile}.next`;
    writeFileSync(next, text);
    const problem = await this.check(next);
    if (problem) {
      this.log.error({ problem }, 'nginx rejected the new ingress configuration; keeping the running one');
      return;
    }
    renameSync(next, this.confFile);
    this.applied = text;
    if (this.child?.pid) process.kill(this.child.pid, 'SIGHUP');
    this.pruneCertificates();
    this.log.debug('nginx ingress configuration reloaded');
  }

  /** Stops nginx (fast shutdown: open connections are closed). */
  async close(): Promise<void> {
    this.closed = true;
    if (this.restartTimer) clearTimeout(this.restartTimer);
    await this.reloading;
    const child = this.child;
    this.child = undefined;
    if (!child?.pid || child.exitCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), STOP_TIMEOUT_MS);
    await exited;
    clearTimeout(timer);
  }
}
