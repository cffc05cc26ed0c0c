import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import http from 'node:http';
import http2 from 'node:http2';
import https from 'node:https';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FakeClock } from '@flotilla/client';
import { Prober, resolveProbePort, runProbe, type ProbeResult, type ProbeTarget } from './probes.js';
import type { ContainerSpec, ProbeSpec } from './types.js';

const HOST = '127.0.0.1';

interface Seen {
  url: string;
  headers: http.IncomingHttpHeaders;
}

function handler(seen: Seen[]): http.RequestListener {
  return (req, res) => {
    seen.push({ url: req.url ?? '', headers: req.headers });
    const url = req.url ?? '/';
    if (url === '/ok' || url.startsWith('/ok?')) return void res.writeHead(200).end('fine');
    if (url === '/') return void res.writeHead(204).end();
    if (url === '/fail') return void res.writeHead(500).end('secret details');
    if (url === '/not-found') return void res.writeHead(404).end();
    if (url === '/redirect') return void res.writeHead(302, { location: '/ok' }).end();
    if (url === '/redirect-bad') return void res.writeHead(301, { location: '/fail' }).end();
    if (url.startsWith('/loop')) {
      const n = Number(url.slice(5) || '0');
      return void res.writeHead(302, { location: `/loop${n + 1}` }).end();
    }
    if (url === '/chain') return void res.writeHead(307, { location: '/loop1' }).end(); // /loop1 → /loop2 → ...
    if (url === '/away') return void res.writeHead(302, { location: 'http://elsewhere.invalid/ok' }).end('moved');
    if (url === '/no-location') return void res.writeHead(302).end('stay');
    if (url === '/big') {
      res.writeHead(200);
      res.write('x'.repeat(64 * 1024));
      return; // never ends: the prober must stop reading at 10 KiB
    }
    if (url === '/slow') return; // never answers
    res.writeHead(418).end();
  };
}

function listen(server: net.Server): Promise<number> {
  return new Promise((resolve) => server.listen(0, HOST, () => resolve((server.address() as net.AddressInfo).port)));
}

let httpServer: http.Server;
let httpPort: number;
let tcpServer: net.Server;
let tcpPort: number;
let closedPort: number;
let httpsServer: https.Server | undefined;
let httpsPort = 0;
let tmp: string;
let grpcServer: http2.Http2Server;
let grpcPort: number;
const grpcSeen: http2.IncomingHttpHeaders[] = [];

/** A gRPC health service: the requested service name decides the answer. */
function grpcHealth(): http2.Http2Server {
  const server = http2.createServer();
  server.on('stream', (stream, headers) => {
    grpcSeen.push(headers);
    const chunks: Buffer[] = [];
    stream.on('data', (c: Buffer) => chunks.push(c));
    stream.on('end', () => {
      const body = Buffer.concat(chunks);
      const msg = body.subarray(5);
      const service = msg.length ? msg.subarray(2, 2 + msg[1]!).toString() : '';
      if (headers[':path'] !== '/grpc.health.v1.Health/Check' || service === 'unimplemented') {
        stream.respond({ ':status': 200, 'content-type': 'application/grpc', 'grpc-status': '12', 'grpc-message': 'unknown service grpc.health.v1.Health' }, { endStream: true });
        return;
      }
      if (service === 'hang') return;
      if (service === 'broken') {
        stream.respond({ ':status': 200, 'content-type': 'application/grpc', 'grpc-status': '13', 'grpc-message': 'boom' }, { endStream: true });
        return;
      }
      const status = service === 'down' ? 2 : 1;
      stream.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true });
      stream.on('wantTrailers', () => stream.sendTrailers({ 'grpc-status': '0' }));
      stream.end(Buffer.from([0, 0, 0, 0, 2, 0x08, status]));
    });
  });
  return server;
}
const seen: Seen[] = [];

beforeAll(async () => {
  httpServer = http.createServer(handler(seen));
  httpPort = await listen(httpServer);
  tcpServer = net.createServer((s) => s.destroy());
  tcpPort = await listen(tcpServer);
  grpcServer = grpcHealth();
  grpcPort = await listen(grpcServer);
  const closed = net.createServer();
  closedPort = await listen(closed);
  await new Promise((r) => closed.close(r));
  tmp = mkdtempSync(path.join(os.tmpdir(), 'probe-test-'));
  try {
    execFileSync(
      'openssl',
      ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', path.join(tmp, 'key.pem'), '-out', path.join(tmp, 'cert.pem'), '-days', '1', '-subj', '/CN=probe-test'],
      { stdio: 'ignore' },
    );
    httpsServer = https.createServer({ key: readFileSync(path.join(tmp, 'key.pem')), cert: readFileSync(path.join(tmp, 'cert.pem')) }, handler(seen));
    httpsPort = await listen(httpsServer);
  } catch {
    httpsServer = undefined; // no openssl: the HTTPS test is skipped
  }
});

afterAll(async () => {
  for (const s of [httpServer, tcpServer, httpsServer]) {
    if (!s) continue;
    (s as http.Server).closeAllConnections?.();
    await new Promise((r) => s.close(r));
  }
  await new Promise((r) => grpcServer.close(r));
  rmSync(tmp, { recursive: true, force: true });
});

const container: ContainerSpec = {
  name: 'app',
  ports: [
    { name: 'http', containerPort: 0 },
    { name: 'tcp', containerPort: 0 },
  ],
};
function withPorts(): ContainerSpec {
  return {
    ...container,
    ports: [
      { name: 'http', containerPort: httpPort },
      { name: 'tcp', containerPort: tcpPort },
    ],
  };
}

function target(exec?: ProbeTarget['exec']): ProbeTarget {
  return {
    podIP: HOST,
    hostIP: '127.0.0.2', // never used when podIP is set
    exec: exec ?? (async () => ({ exitCode: 0, stdout: '', stderr: '', timedOut: false })),
  };
}

describe('runProbe: httpGet', () => {
  const get = (p: Partial<NonNullable<ProbeSpec['httpGet']>>, extra: Partial<ProbeSpec> = {}) =>
    runProbe({ httpGet: { port: httpPort, ...p }, ...extra }, target(), withPorts());

  it('succeeds on 2xx with the body as message, fails on >= 400 without the body', async () => {
    expect(await get({ path: '/ok' })).toEqual({ ok: true, message: 'fine' });
    expect(await get({})).toEqual({ ok: true, message: '' }); // default path /
    expect(await get({ path: '/fail' })).toEqual({ ok: false, message: 'HTTP probe failed with statuscode: 500' });
    expect(await get({ path: '/not-found' })).toEqual({ ok: false, message: 'HTTP probe failed with statuscode: 404' });
  });

  it('resolves named ports and sends the kubelet headers plus the probe headers', async () => {
    seen.length = 0;
    const r = await runProbe(
      {
        httpGet: {
          port: 'http',
          path: '/ok?x=1',
          httpHeaders: [
            { name: 'X-Custom', value: 'a' },
            { name: 'x-custom', value: 'b' },
            { name: 'Host', value: 'svc.example' },
          ],
        },
      },
      target(),
      withPorts(),
    );
    expect(r.ok).toBe(true);
    expect(seen).toHaveLength(1);
    expect(seen[0]!.url).toBe('/ok?x=1');
    expect(seen[0]!.headers['user-agent']).toBe('kube-probe/1.31');
    expect(seen[0]!.headers['accept']).toBe('*/*');
    expect(seen[0]!.headers['x-custom']).toBe('a, b');
    expect(seen[0]!.headers['host']).toBe('svc.example');

    seen.length = 0;
    await get({ path: '/ok', httpHeaders: [{ name: 'User-Agent', value: 'mine' }, { name: 'Accept', value: '' }] });
    expect(seen[0]!.headers['user-agent']).toBe('mine');
    expect(seen[0]!.headers['accept']).toBeUndefined();
  });

  it('follows redirects to the same host, not elsewhere, and stops at the 10th', async () => {
    expect(await get({ path: '/redirect' })).toEqual({ ok: true, message: 'fine' });
    expect(await get({ path: '/redirect-bad' })).toEqual({ ok: false, message: 'HTTP probe failed with statuscode: 500' });
    expect(await get({ path: '/away' })).toEqual({ ok: true, warning: true, message: 'Probe terminated redirects, Response body: moved' });
    expect(await get({ path: '/no-location' })).toEqual({ ok: true, warning: true, message: 'Probe terminated redirects, Response body: stay' });
    seen.length = 0;
    const loop = await get({ path: '/loop' });
    expect(loop.ok).toBe(false);
    expect(loop.message).toMatch(/stopped after 10 redirects$/);
    expect(seen.map((s) => s.url)).toEqual(['/loop', ...Array.from({ length: 9 }, (_, i) => `/loop${i + 1}`)]);
  });

  it('reads at most 10 KiB of the body', async () => {
    const r = await get({ path: '/big' });
    expect(r.ok).toBe(true);
    expect(r.message).toHaveLength(10 * 1024);
  });

  it('fails on timeout and on a closed port', async () => {
    const started = Date.now();
    const slow = await get({ path: '/slow' }, { timeoutSeconds: 1 });
    expect(Date.now() - started).toBeGreaterThanOrEqual(950);
    expect(slow).toEqual({ ok: false, message: `Get "http://${HOST}:${httpPort}/slow": context deadline exceeded (Client.Timeout exceeded while awaiting headers)` });
    const refused = await runProbe({ httpGet: { port: closedPort, path: '/ok' } }, target(), container);
    expect(refused).toEqual({ ok: false, message: `Get "http://${HOST}:${closedPort}/ok": dial tcp ${HOST}:${closedPort}: connect: connection refused` });
  });

  it('uses the host field over the pod IP, and the host IP without a pod IP', async () => {
    const noPodIP: ProbeTarget = { hostIP: HOST, exec: target().exec };
    expect((await runProbe({ httpGet: { port: httpPort, path: '/ok' } }, noPodIP, container)).ok).toBe(true);
    const hostSet: ProbeTarget = { ...target(), podIP: '127.0.0.3' };
    expect((await runProbe({ httpGet: { host: HOST, port: httpPort, path: '/ok' } }, hostSet, container)).ok).toBe(true);
  });

  it('probes HTTPS without checking the certificate', async (t) => {
    if (!httpsServer) return t.skip();
    expect(await runProbe({ httpGet: { scheme: 'HTTPS', port: httpsPort, path: '/ok' } }, target(), container)).toEqual({ ok: true, message: 'fine' });
    expect((await runProbe({ httpGet: { scheme: 'HTTPS', port: httpsPort, path: '/fail' } }, target(), container)).ok).toBe(false);
  });

  it('reports an unknown named port as an error', async () => {
    expect(await runProbe({ httpGet: { port: 'metrics' } }, target(), withPorts())).toEqual({ ok: false, error: true, message: 'port metrics not found' });
  });
});

describe('runProbe: tcpSocket, exec, grpc', () => {
  it('connects to an open port and fails on a closed one', async () => {
    expect(await runProbe({ tcpSocket: { port: 'tcp' } }, target(), withPorts())).toEqual({ ok: true, message: '' });
    expect(await runProbe({ tcpSocket: { port: closedPort } }, target(), container)).toEqual({ ok: false, message: `dial tcp ${HOST}:${closedPort}: connect: connection refused` });
  });

  it('runs exec with the timeout and reports exit status, output and time-outs', async () => {
    const calls: [string[], number][] = [];
    const t = target(async (cmd, timeoutMs) => {
      calls.push([cmd, timeoutMs]);
      if (cmd[0] === 'ok') return { exitCode: 0, stdout: 'out\n', stderr: 'err\n', timedOut: false };
      if (cmd[0] === 'slow') return { exitCode: -1, stdout: '', stderr: '', timedOut: true };
      if (cmd[0] === 'big') return { exitCode: 0, stdout: 'y'.repeat(20_000), stderr: '', timedOut: false };
      if (cmd[0] === 'broken') throw new Error('container not running');
      return { exitCode: 3, stdout: 'bad', stderr: '', timedOut: false };
    });
    expect(await runProbe({ exec: { command: ['ok'] }, timeoutSeconds: 5 }, t, container)).toEqual({ ok: true, message: 'out\nerr\n' });
    expect(calls[0]).toEqual([['ok'], 5000]);
    expect(await runProbe({ exec: { command: ['false', '-x'] } }, t, container)).toEqual({ ok: false, message: 'bad' });
    expect(calls[1]).toEqual([['false', '-x'], 1000]);
    expect(await runProbe({ exec: { command: ['slow', 'arg'] } }, t, container)).toEqual({ ok: false, message: 'command "slow arg" timed out' });
    expect((await runProbe({ exec: { command: ['big'] } }, t, container)).message).toHaveLength(10 * 1024);
    expect(await runProbe({ exec: { command: ['broken'] } }, t, container)).toEqual({ ok: false, error: true, message: 'container not running' });
  });

  it('errors without a handler', async () => {
    expect((await runProbe({ periodSeconds: 3 }, target(), container)).error).toBe(true);
  });

  it('calls the gRPC health service', async () => {
    const grpc = (service?: string, port = grpcPort) => runProbe({ grpc: { port, ...(service !== undefined ? { service } : {}) } }, target(), container);
    grpcSeen.length = 0;
    expect(await grpc()).toEqual({ ok: true, message: 'service healthy' });
    expect(grpcSeen[0]).toMatchObject({ ':method': 'POST', ':path': '/grpc.health.v1.Health/Check', 'content-type': 'application/grpc', 'user-agent': 'kube-probe/1.31' });
    expect(await grpc('app')).toEqual({ ok: true, message: 'service healthy' });
    expect(await grpc('down')).toEqual({ ok: false, message: 'service unhealthy (responded with "NOT_SERVING")' });
    expect(await grpc('unimplemented')).toEqual({ ok: false, message: 'error: this server does not implement the grpc health protocol (grpc.health.v1.Health): unknown service grpc.health.v1.Health' });
    expect(await grpc('broken')).toEqual({ ok: false, message: 'error: health rpc probe failed: rpc error: code = Internal desc = boom' });
    expect(await grpc('', closedPort)).toEqual({ ok: false, message: `error: failed to connect service at "${HOST}:${closedPort}": dial tcp ${HOST}:${closedPort}: connect: connection refused` });
    // A plain HTTP/1 server is no gRPC server.
    expect((await grpc('', tcpPort)).ok).toBe(false);
  });

  it('resolves ports like the kubelet', () => {
    const c: ContainerSpec = { name: 'c', ports: [{ name: 'web', containerPort: 8080 }] };
    expect(resolveProbePort('web', c)).toBe(8080);
    expect(resolveProbePort(81, c)).toBe(81);
    expect(resolveProbePort('82', c)).toBe(82);
    expect(() => resolveProbePort('nope', c)).toThrow('port nope not found');
    expect(() => resolveProbePort(0, c)).toThrow('invalid port number: 0');
    expect(() => resolveProbePort(70000, c)).toThrow('invalid port number: 70000');
  });
});

/** An exec target whose results the test scripts; records when it was called. */
function scripted(clock: FakeClock) {
  const results: ('ok' | 'fail' | 'error')[] = [];
  const calls: number[] = [];
  let fallback: 'ok' | 'fail' | 'error' = 'ok';
  const t: ProbeTarget = {
    hostIP: HOST,
    exec: async () => {
      calls.push(clock.now());
      const r = results.shift() ?? fallback;
      if (r === 'error') throw new Error('exec failed');
      return { exitCode: r === 'ok' ? 0 : 1, stdout: r, stderr: '', timedOut: false };
    },
  };
  return {
    target: t,
    calls,
    push: (...r: ('ok' | 'fail' | 'error')[]) => results.push(...r),
    setFallback: (r: 'ok' | 'fail' | 'error') => (fallback = r),
  };
}

function makeProber(kind: 'liveness' | 'readiness' | 'startup', probe: Partial<ProbeSpec>, clock: FakeClock, t: ProbeTarget, startedAt = clock.now()) {
  const changes: [boolean, string | undefined][] = [];
  const results: ProbeResult[] = [];
  const p = new Prober({
    kind,
    probe: { exec: { command: ['check'] }, ...probe },
    container,
    target: t,
    startedAt,
    clock,
    onChange: (s, m) => changes.push([s, m]),
    onResult: (r) => results.push(r),
  });
  return { p, changes, results };
}

describe('Prober', () => {
  it('readiness: false until the first success, then false after failureThreshold failures; keeps probing', async () => {
    const clock = new FakeClock();
    const s = scripted(clock);
    const t0 = clock.now();
    const { p, changes } = makeProber('readiness', { initialDelaySeconds: 5, periodSeconds: 2 }, clock, s.target);
    s.push('fail', 'ok', 'fail', 'fail', 'ok', 'fail', 'fail', 'fail');
    expect(p.state).toBe(false);
    p.start();
    await clock.advance(4_999);
    expect(s.calls).toEqual([]);
    await clock.advance(1); // t=5s: fail (no change: already false)
    expect(changes).toEqual([]);
    await clock.advance(2_000); // 7s: ok
    expect(changes).toEqual([[true, 'ok']]);
    expect(p.state).toBe(true);
    await clock.advance(4_000); // 9s fail, 11s fail
    expect(p.state).toBe(true);
    await clock.advance(2_000); // 13s ok resets the run
    await clock.advance(6_000); // 15, 17, 19: three failures
    expect(changes).toEqual([
      [true, 'ok'],
      [false, 'fail'],
    ]);
    expect(s.calls.map((c) => c - t0)).toEqual([5000, 7000, 9000, 11000, 13000, 15000, 17000, 19000]);
    await clock.advance(2_000); // still probing (fallback ok)
    expect(changes.at(-1)).toEqual([true, 'ok']);
    p.stop();
    const n = s.calls.length;
    await clock.advance(60_000);
    expect(s.calls.length).toBe(n);
    expect(clock.pending).toBe(0);
  });

  it('readiness honours successThreshold and discards errored attempts', async () => {
    const clock = new FakeClock();
    const s = scripted(clock);
    const { p, changes, results } = makeProber('readiness', { successThreshold: 2, periodSeconds: 1 }, clock, s.target);
    s.push('ok', 'error', 'ok', 'ok');
    p.start();
    await clock.advance(0); // ok (1 of 2)
    await clock.advance(1_000); // error: discarded, the run of successes stays
    expect(p.state).toBe(false);
    await clock.advance(1_000); // ok (2 of 2)
    expect(changes).toEqual([[true, 'ok']]);
    expect(results.map((r) => (r.error ? 'error' : r.ok))).toEqual([true, 'error', true]);
    p.stop();
  });

  it('liveness: true until failureThreshold consecutive failures, then stops probing', async () => {
    const clock = new FakeClock();
    const s = scripted(clock);
    const { p, changes } = makeProber('liveness', { periodSeconds: 10, failureThreshold: 2, successThreshold: 5 /* forced to 1 */ }, clock, s.target);
    expect(p.state).toBe(true);
    s.push('fail', 'ok', 'fail', 'fail');
    p.start();
    await clock.advance(0);
    await clock.advance(10_000);
    await clock.advance(10_000);
    expect(p.state).toBe(true);
    expect(changes).toEqual([]);
    await clock.advance(10_000);
    expect(p.state).toBe(false);
    expect(changes).toEqual([[false, 'fail']]);
    expect(p.done).toBe(true);
    await clock.advance(100_000);
    expect(s.calls).toHaveLength(4);
  });

  it('startup: unknown until the first success, then true and done; false after the failure threshold', async () => {
    const clock = new FakeClock();
    const s = scripted(clock);
    const a = makeProber('startup', { periodSeconds: 1, failureThreshold: 30 }, clock, s.target);
    expect(a.p.state).toBeUndefined();
    s.push('fail', 'fail', 'ok');
    a.p.start();
    await clock.advance(2_000);
    expect(a.changes).toEqual([[true, 'ok']]);
    expect(a.p.state).toBe(true);
    await clock.advance(10_000);
    expect(s.calls).toHaveLength(3);

    const s2 = scripted(clock);
    s2.setFallback('fail');
    const b = makeProber('startup', { periodSeconds: 1, failureThreshold: 3 }, clock, s2.target);
    b.p.start();
    await clock.advance(10_000);
    expect(b.changes).toEqual([[false, 'fail']]);
    expect(s2.calls).toHaveLength(3);
  });

  it('schedules the first attempt relative to the container start', async () => {
    const clock = new FakeClock();
    const s = scripted(clock);
    const startedAt = clock.now() - 3_000; // the container started 3 s ago
    const { p } = makeProber('readiness', { initialDelaySeconds: 5, periodSeconds: 10 }, clock, s.target, startedAt);
    p.start();
    await clock.advance(1_999);
    expect(s.calls).toHaveLength(0);
    await clock.advance(1);
    expect(s.calls).toHaveLength(1);
    p.stop();

    const late = makeProber('readiness', { initialDelaySeconds: 5 }, clock, s.target, clock.now() - 60_000);
    late.p.start();
    await clock.advance(0);
    expect(s.calls).toHaveLength(2); // delay long past: probes at once
    late.p.stop();
  });

  it('ignores a result that arrives after stop()', async () => {
    const clock = new FakeClock();
    let release!: () => void;
    const t: ProbeTarget = {
      hostIP: HOST,
      exec: () => new Promise((r) => (release = () => r({ exitCode: 0, stdout: '', stderr: '', timedOut: false }))),
    };
    const { p, changes } = makeProber('readiness', {}, clock, t);
    p.start();
    await clock.advance(0);
    p.stop();
    release();
    await new Promise((r) => setImmediate(r));
    expect(changes).toEqual([]);
    expect(p.state).toBe(false);
  });

  it('probes a real HTTP server on a real clock', async () => {
    const changes: boolean[] = [];
    const p = new Prober({
      kind: 'readiness',
      probe: { httpGet: { port: httpPort, path: '/ok' }, periodSeconds: 1 },
      container,
      target: target(),
      startedAt: Date.now(),
      onChange: (s) => changes.push(s),
    });
    p.start();
    await new Promise((r) => setTimeout(r, 150));
    p.stop();
    expect(changes).toEqual([true]);
  });
});
