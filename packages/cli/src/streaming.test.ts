import { createServer, type IncomingMessage, type Server } from 'node:http';
import { connect } from 'node:net';
import { PassThrough } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocketServer, type WebSocket } from 'ws';
import { interpretStatus } from './commands/exec.js';
import { convertPodNamedPorts, parsePortPairs, pickPod, translateServicePorts } from './commands/port-forward.js';
import { formatNodeTable, formatPodTable } from './commands/top.js';
import { main } from './main.js';

function captureIO(stdin: NodeJS.ReadableStream = new PassThrough()) {
  let out = '';
  let err = '';
  return {
    io: { stdout: { write: (s: string | Uint8Array) => (out += s.toString()) }, stderr: { write: (s: string | Uint8Array) => (err += s.toString()) }, stdin },
    out: () => out,
    err: () => err,
  };
}

describe('exec Status', () => {
  it('maps the error channel to exit codes and messages like kubectl', () => {
    expect(interpretStatus('', 'v5.channel.k8s.io')).toEqual({ code: 0 });
    expect(interpretStatus('{"metadata":{},"status":"Success"}', 'v5.channel.k8s.io')).toEqual({ code: 0 });
    const failure = JSON.stringify({ status: 'Failure', reason: 'NonZeroExitCode', details: { causes: [{ reason: 'ExitCode', message: '42' }] } });
    expect(interpretStatus(failure, 'v4.channel.k8s.io')).toEqual({ code: 42, message: 'command terminated with exit code 42' });
    expect(interpretStatus('{"status":"Failure","reason":"BadRequest","message":"container nope is not valid for pod web","code":400}', 'v5.channel.k8s.io')).toEqual({ code: 1, message: 'error: container nope is not valid for pod web' });
  });
});

describe('port-forward ports', () => {
  const pod = { metadata: { name: 'p' }, spec: { containers: [{ name: 'c', ports: [{ name: 'http', containerPort: 8080 }] }] } };
  it('parses LOCAL:REMOTE, REMOTE and :REMOTE', () => {
    expect(parsePortPairs(['80', '8080:80', ':443', '0:22'])).toEqual([
      { local: 80, remote: 80 },
      { local: 8080, remote: 80 },
      { local: 0, remote: 443 },
      { local: 0, remote: 22 },
    ]);
    expect(() => parsePortPairs(['x:80'])).toThrow("error parsing local port 'x'");
    expect(() => parsePortPairs(['1:2:3'])).toThrow('invalid port format');
    expect(() => parsePortPairs(['80:0'])).toThrow('Remote port must be > 0');
  });
  it('translates named pod ports and service ports to target ports', () => {
    expect(convertPodNamedPorts(['http', '9000:http', '81'], pod)).toEqual(['8080', '9000:8080', '81']);
    expect(() => convertPodNamedPorts(['grpc'], pod)).toThrow("Pod 'p' does not have a named port 'grpc'");
    const svc = { metadata: { name: 's' }, spec: { ports: [{ name: 'web', port: 80, targetPort: 'http' }, { name: 'tls', port: 443, targetPort: 8443 }, { port: 9000 }] } };
    expect(translateServicePorts(['80', ':80', '5000:443', 'web', '9000'], svc, pod)).toEqual(['80:8080', ':8080', '5000:8443', '80:8080', '9000']);
    expect(() => translateServicePorts(['81'], svc, pod)).toThrow('Service s does not have a service port 81');
    expect(translateServicePorts(['81'], { ...svc, spec: { ...svc.spec, clusterIP: 'None', ports: [{ port: 81, targetPort: 9 }] } }, pod)).toEqual(['81']);
  });
  it('prefers a running, ready pod', () => {
    const mk = (name: string, phase: string, ready: boolean, created: string) => ({ metadata: { name, creationTimestamp: created }, spec: { nodeName: 'n' }, status: { phase, conditions: [{ type: 'Ready', status: ready ? 'True' : 'False' }] } });
    expect(pickPod([mk('a', 'Pending', false, '2024-01-03'), mk('b', 'Running', false, '2024-01-02'), mk('c', 'Running', true, '2024-01-01')])?.metadata.name).toBe('c');
  });
});

describe('top tables', () => {
  it('prints nodes like kubectl top node', () => {
    const out = formatNodeTable([{ metadata: { name: 'n1' }, usage: { cpu: '1659834123n', memory: '1150000Ki' } }], new Map([['n1', { cpu: '2', memory: '28Gi' }], ['n2', { cpu: '1', memory: '1Gi' }]]), {});
    expect(out).toBe('NAME   CPU(cores)   CPU%        MEMORY(bytes)   MEMORY%     \nn1     1660m        83%         1123Mi          3%          \nn2     <unknown>    <unknown>   <unknown>       <unknown>   \n');
  });
  it('prints pods (summed over containers), -A and --containers, sorted', () => {
    const m = [
      { metadata: { name: 'b', namespace: 'x' }, containers: [{ name: 'c1', usage: { cpu: '2500000n', memory: '1048576' } }, { name: 'c2', usage: { cpu: '500000n', memory: '2Mi' } }] },
      { metadata: { name: 'a', namespace: 'y' }, containers: [{ name: 'main', usage: { cpu: '1m', memory: '10Mi' } }] },
    ];
    expect(formatPodTable(m, {})).toBe('NAME   CPU(cores)   MEMORY(bytes)   \na      1m           10Mi            \nb      3m           3Mi             \n');
    expect(formatPodTable(m, { allNamespaces: true, sortBy: 'cpu', noHeaders: true })).toBe('x   b   3m   3Mi    \ny   a   1m   10Mi   \n');
    expect(formatPodTable(m, { containers: true, sortBy: 'memory' })).toBe('POD   NAME   CPU(cores)   MEMORY(bytes)   \na     main   1m           10Mi            \nb     c2     1m           2Mi             \nb     c1     3m           1Mi             \n');
  });
});

/** A fake API server: GET of pod `p` and WebSocket upgrades on its subresources. */
async function fakeServer(protocols: string[], onSocket: (ws: WebSocket, req: IncomingMessage) => void): Promise<{ url: string; server: Server; requests: string[] }> {
  const requests: string[] = [];
  const server = createServer((req, res) => {
    requests.push(`${req.method} ${req.url}`);
    if (req.url === '/api/v1/namespaces/default/pods/p') {
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p', namespace: 'default' }, spec: { containers: [{ name: 'main', ports: [{ name: 'http', containerPort: 8080 }] }] }, status: { phase: 'Running' } }));
      return;
    }
    res.statusCode = 404;
    res.end('{"kind":"Status","status":"Failure","reason":"NotFound","code":404,"message":"not found"}');
  });
  const wss = new WebSocketServer({ server, handleProtocols: (offered) => protocols.find((p) => offered.has(p)) ?? false });
  wss.on('connection', (ws, req) => {
    requests.push(`WS ${req.url} ${ws.protocol}`);
    onSocket(ws, req);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(server.address() as { port: number }).port}`, server, requests };
}

describe('exec over WebSocket (fake server)', () => {
  let server: Server | undefined;
  afterEach(() => {
    server?.closeAllConnections();
    server?.close();
  });

  it('offers v5, sends stdin and its close, and exits with the remote exit code', async () => {
    const received: Buffer[] = [];
    const fake = await fakeServer(['v5.channel.k8s.io', 'v4.channel.k8s.io'], (ws) => {
      ws.send(Buffer.from('\x01out'));
      ws.send(Buffer.from('\x02err'));
      ws.on('message', (d: Buffer) => {
        received.push(d);
        if (d[0] === 255) {
          ws.send(Buffer.concat([Buffer.from([3]), Buffer.from(JSON.stringify({ status: 'Failure', reason: 'NonZeroExitCode', details: { causes: [{ reason: 'ExitCode', message: '7' }] } }))]));
          ws.close(1000);
        }
      });
    });
    server = fake.server;
    const stdin = new PassThrough();
    const c = captureIO(stdin);
    stdin.end('hello');
    const code = await main(['-s', fake.url, 'exec', '-i', 'p', '--', 'sh', '-c', 'cat; exit 7'], c.io);
    expect(c.err()).toBe('errcommand terminated with exit code 7\n');
    expect(c.out()).toBe('out');
    expect(code).toBe(7);
    expect(received.map((b) => [...b])).toEqual([[0, ...Buffer.from('hello')], [255, 0]]);
    expect(fake.requests[1]).toBe('WS /api/v1/namespaces/default/pods/p/exec?command=sh&command=-c&command=cat%3B+exit+7&container=main&stdin=true&stdout=true&stderr=true v5.channel.k8s.io');
  });

  it('-it: raw mode, no stderr stream, the terminal size at start and on SIGWINCH', async () => {
    const resizes: string[] = [];
    const fake = await fakeServer(['v5.channel.k8s.io'], (ws) => {
      ws.on('message', (d: Buffer) => {
        if (d[0] !== 4) return;
        resizes.push(d.subarray(1).toString());
        if (resizes.length === 1) setTimeout(() => process.emit('SIGWINCH' as 'SIGINT', 'SIGWINCH' as 'SIGINT'), 10);
        else {
          ws.send(Buffer.from('\x03{"metadata":{},"status":"Success"}'));
          ws.close(1000);
        }
      });
    });
    server = fake.server;
    const stdin = Object.assign(new PassThrough(), { isTTY: true, raw: [] as boolean[], setRawMode(r: boolean) { this.raw.push(r); } });
    const c = captureIO(stdin);
    const stdout = Object.assign(c.io.stdout, { columns: 100, rows: 30 });
    const running = main(['-s', fake.url, 'exec', '-it', 'p', '--', 'sh'], { ...c.io, stdout });
    await new Promise((r) => setTimeout(r, 5));
    stdout.columns = 120;
    expect(await running).toBe(0);
    expect(stdin.raw).toEqual([true, false]);
    expect(resizes[0]).toMatch(/^\{"Width":1[02]0,"Height":30\}$/);
    expect(resizes[1]).toBe('{"Width":120,"Height":30}');
    expect(fake.requests[1]).toContain('&stdin=true&stdout=true&tty=true v5');
  });

  it('falls back to v4 when the server only speaks v4', async () => {
    const fake = await fakeServer(['v4.channel.k8s.io'], (ws) => {
      ws.send(Buffer.from('\x01hi\n'));
      ws.send(Buffer.from('\x03{"metadata":{},"status":"Success"}'));
      ws.close(1000);
    });
    server = fake.server;
    const c = captureIO();
    expect(await main(['-s', fake.url, 'exec', 'p', '--', 'echo', 'hi'], c.io)).toBe(0);
    expect(c.out()).toBe('hi\n');
    expect(fake.requests[1]).toMatch(/ v4\.channel\.k8s\.io$/);
  });
});

describe('port-forward over WebSocket (fake server)', () => {
  it('strips the port prefix of each channel and relays both ways', async () => {
    const fake = await fakeServer(['v4.channel.k8s.io'], (ws) => {
      const prefix = (ch: number) => Buffer.from([ch, 0x90, 0x1f]); // 8080 little endian
      ws.send(prefix(0));
      ws.send(prefix(1));
      ws.on('message', (d: Buffer) => {
        if (d[0] === 0) ws.send(Buffer.concat([Buffer.from([0]), Buffer.from(d.subarray(1).toString().toUpperCase())]));
      });
    });
    const c = captureIO();
    const running = main(['-s', fake.url, 'port-forward', 'p', '0:http'], c.io);
    try {
      let port = 0;
      for (let i = 0; i < 100 && !port; i++) {
        port = Number(/Forwarding from 127\.0\.0\.1:(\d+) -> 8080\n/.exec(c.out())?.[1] ?? 0);
        if (!port) await new Promise((r) => setTimeout(r, 50));
      }
      expect(port).toBeGreaterThan(0);
      const echoed = await new Promise<string>((resolve, reject) => {
        const s = connect(port, '127.0.0.1', () => s.write('ping'));
        s.on('data', (d) => {
          resolve(d.toString());
          s.destroy();
        });
        s.on('error', reject);
      });
      expect(echoed).toBe('PING');
      expect(fake.requests).toContain('WS /api/v1/namespaces/default/pods/p/portforward?ports=8080 v4.channel.k8s.io');
      expect(c.out()).toContain(`Handling connection for ${port}`);
    } finally {
      process.emit('SIGINT');
      expect(await running).toBe(0);
      fake.server.closeAllConnections();
      fake.server.close();
    }
  });
});
