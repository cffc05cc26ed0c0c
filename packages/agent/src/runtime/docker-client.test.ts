/**
 * The Docker client against a fake engine on a unix socket (paths, query strings, headers, error
 * mapping, stream parsing, timeouts), and the pure helpers it and the runtime are built from.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { demultiplexStream, DockerClient, DockerError, encodeRegistryAuth, parseJsonLines, splitImageReference } from './docker-client.js';
import { buildContainerName, parseContainerName, toImageRef } from './docker-runtime.js';
import { milliCpuToNanoCpus, milliCpuToShares, RuntimeError, isRuntimeNotFound } from './runtime.js';
import { createTar, readTar } from './tar.js';

async function* chunks(...parts: Buffer[]): AsyncGenerator<Buffer> {
  for (const p of parts) yield p;
}

function frame(type: number, text: string): Buffer {
  const payload = Buffer.from(text);
  const h = Buffer.alloc(8);
  h[0] = type;
  h.writeUInt32BE(payload.length, 4);
  return Buffer.concat([h, payload]);
}

describe('helpers', () => {
  it('splits image references into fromImage and tag', () => {
    expect(splitImageReference('busybox')).toEqual({ image: 'busybox', tag: 'latest' });
    expect(splitImageReference('busybox:1.36')).toEqual({ image: 'busybox', tag: '1.36' });
    expect(splitImageReference('localhost:5000/team/app')).toEqual({ image: 'localhost:5000/team/app', tag: 'latest' });
    expect(splitImageReference('localhost:5000/team/app:v2')).toEqual({ image: 'localhost:5000/team/app', tag: 'v2' });
    expect(splitImageReference('app@sha256:abc')).toEqual({ image: 'app', tag: 'sha256:abc' });
  });

  it('encodes registry auth as padded URL-safe base64 JSON', () => {
    const encoded = encodeRegistryAuth({ username: 'u?>', password: 'p~~~', serveraddress: 'r.example' });
    expect(encoded).not.toMatch(/[+/]/);
    expect(JSON.parse(Buffer.from(encoded, 'base64url').toString())).toEqual({ username: 'u?>', password: 'p~~~', serveraddress: 'r.example' });
  });

  it('demultiplexes frames split across chunks', async () => {
    const all = Buffer.concat([frame(1, 'hello '), frame(2, 'oops\n'), frame(1, 'world\n')]);
    const out = [];
    for await (const c of demultiplexStream(chunks(all.subarray(0, 3), all.subarray(3, 17), all.subarray(17)))) out.push([c.stream, c.data.toString()]);
    expect(out).toEqual([['stdout', 'hello '], ['stderr', 'oops\n'], ['stdout', 'world\n']]);
  });

  it('parses JSON lines split across chunks', async () => {
    const out = [];
    for await (const m of parseJsonLines(chunks(Buffer.from('{"a":1}\r\n{"b"'), Buffer.from(':2}\n\n{"c":3}')))) out.push(m);
    expect(out).toEqual([{ a: 1 }, { b: 2 }, { c: 3 }]);
  });

  it('writes and reads tar archives', () => {
    const long = `${'d'.repeat(120)}/${'f'.repeat(90)}`;
    const tar = createTar([
      { type: 'directory', name: 'bin' },
      { type: 'file', name: 'bin/tool', data: 'x'.repeat(700), mode: 0o755 },
      { type: 'symlink', name: 'bin/sh', target: 'tool' },
      { type: 'file', name: long, data: 'deep' },
    ]);
    expect(tar.length % 512).toBe(0);
    const files = readTar(tar);
    expect(files.map((f) => [f.name, f.type, f.mode, f.size])).toEqual([
      ['bin/', 'directory', 0o755, 0],
      ['bin/tool', 'file', 0o755, 700],
      ['bin/sh', 'symlink', 0o777, 0],
      [long, 'file', 0o644, 4],
    ]);
    expect(files[2]?.linkTarget).toBe('tool');
    expect(files[3]?.data.toString()).toBe('deep');
  });

  it('maps CPU and names as the kubelet and dockershim do', () => {
    expect([0, 1, 100, 250, 1000, 1_000_000].map(milliCpuToShares)).toEqual([2, 2, 102, 256, 1024, 262_144]);
    expect(milliCpuToShares(undefined)).toBe(2);
    expect(milliCpuToNanoCpus(500)).toBe(500_000_000);
    const name = buildContainerName('web', { name: 'web-0', namespace: 'default', uid: '1234-5678' }, 3);
    expect(name).toBe('k8s_web_web-0_default_1234-5678_3');
    expect(parseContainerName(`/${name}`)).toEqual({ container: 'web', podName: 'web-0', podNamespace: 'default', podUid: '1234-5678', attempt: 3 });
    expect(parseContainerName('/random')).toBeUndefined();
    expect(toImageRef('sha256:1', { RepoDigests: ['busybox@sha256:2'] })).toBe('docker-pullable://busybox@sha256:2');
    expect(toImageRef('sha256:1', { RepoDigests: [] })).toBe('docker://sha256:1');
  });
});

describe('DockerClient against a fake engine', () => {
  let dir: string;
  let server: Server;
  let client: DockerClient;
  const seen: { method: string; url: string; headers: IncomingMessage['headers']; body: string }[] = [];
  let handle: (req: IncomingMessage, res: ServerResponse, body: string) => void = () => undefined;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'fake-docker-'));
    const socketPath = join(dir, 'docker.sock');
    server = createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body });
        handle(req, res, body);
      });
    });
    await new Promise<void>((r) => server.listen(socketPath, r));
    client = new DockerClient({ socketPath, requestTimeoutMs: 300 });
  });

  afterAll(async () => {
    await client.close();
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
    rmSync(dir, { recursive: true, force: true });
  });

  function json(res: ServerResponse, status: number, value: unknown): void {
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(JSON.stringify(value));
  }

  it('prefixes the API version, encodes label filters and maps 404/409 to coded errors', async () => {
    handle = (req, res) => {
      if (req.url?.startsWith('/v1.41/containers/json')) return json(res, 200, []);
      if (req.url === '/v1.41/containers/gone/json') return json(res, 404, { message: 'No such container: gone' });
      return json(res, 409, { message: 'Conflict. The container name "/x" is already in use' });
    };
    await client.listContainers({ filters: { label: { 'io.flotilla.node': 'n1' } } });
    const url = new URL(`http://x${seen.at(-1)!.url}`);
    expect(url.pathname).toBe('/v1.41/containers/json');
    expect(url.searchParams.get('all')).toBe('true');
    expect(JSON.parse(url.searchParams.get('filters')!)).toEqual({ label: ['io.flotilla.node=n1'] });

    const notFound = await client.inspectContainer('gone').catch((e: unknown) => e);
    expect(notFound).toBeInstanceOf(DockerError);
    expect(notFound).toBeInstanceOf(RuntimeError);
    expect(notFound).toMatchObject({ statusCode: 404, code: 'NotFound', message: 'No such container: gone' });
    expect(isRuntimeNotFound(notFound)).toBe(true);
    await expect(client.createContainer('x', { Image: 'i' })).rejects.toMatchObject({ statusCode: 409, code: 'Conflict', message: expect.stringContaining('already in use') });
  });

  it('surfaces a pull error reported inside the progress stream, sending the auth header', async () => {
    handle = (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write('{"status":"Pulling from library/app","id":"1"}\r\n');
      res.end('{"errorDetail":{"message":"manifest for app:9 not found: manifest unknown"},"error":"manifest for app:9 not found: manifest unknown"}\r\n');
    };
    const progress: string[] = [];
    const err = await client.pullImage('registry.example/app:9', { auth: { username: 'u', password: 'p' }, onProgress: (m) => progress.push(m.status ?? '') }).catch((e: unknown) => e);
    expect(err).toMatchObject({ name: 'DockerError', message: 'manifest for app:9 not found: manifest unknown' });
    expect(progress).toEqual(['Pulling from library/app']);
    const req = seen.at(-1)!;
    expect(req.url).toBe('/v1.41/images/create?fromImage=registry.example%2Fapp&tag=9');
    expect(JSON.parse(Buffer.from(String(req.headers['x-registry-auth']), 'base64url').toString())).toEqual({ username: 'u', password: 'p' });
  });

  it('times out plain requests but not streams', async () => {
    handle = (req, res) => {
      if (req.url?.startsWith('/v1.41/events')) {
        res.writeHead(200, { 'content-type': 'application/json' });
        // Slower than the request timeout: a stream must not be cut.
        setTimeout(() => res.write('{"Type":"container","Action":"start","Actor":{"ID":"c1","Attributes":{}},"time":1,"timeNano":1000000000}\n'), 500);
        return;
      }
      // Never answers.
    };
    const t0 = Date.now();
    await expect(client.info()).rejects.toMatchObject({ code: 'Timeout' });
    expect(Date.now() - t0).toBeLessThan(2_000);

    const ac = new AbortController();
    const events = [];
    for await (const e of client.events({ signal: ac.signal })) {
      events.push(e);
      ac.abort();
    }
    expect(events).toMatchObject([{ Action: 'start', Actor: { ID: 'c1' } }]);
  });

  it('reads a hijacked exec stream until the engine closes it', async () => {
    handle = (req, res) => {
      if (req.url === '/v1.41/containers/c1/exec') return json(res, 201, { Id: 'e1' });
      if (req.url === '/v1.41/exec/e1/json') return json(res, 200, { ID: 'e1', Running: false, ExitCode: 2, Pid: 0, ContainerID: 'c1' });
      // What the engine does on /exec/{id}/start without an upgrade: raw stream, no length, close.
      const socket = res.socket!;
      socket.write('HTTP/1.1 200 OK\r\nContent-Type: application/vnd.docker.multiplexed-stream\r\n\r\n');
      socket.write(frame(1, 'out\n'));
      socket.end(frame(2, 'err\n'));
    };
    expect(await client.exec('c1', ['sh', '-c', 'x'])).toEqual({ exitCode: 2, stdout: 'out\n', stderr: 'err\n', timedOut: false });
    expect(JSON.parse(seen.find((r) => r.url === '/v1.41/containers/c1/exec')!.body)).toMatchObject({ Cmd: ['sh', '-c', 'x'], AttachStdout: true, AttachStderr: true });
  });

  it('reports an unreachable engine as Unavailable', async () => {
    const absent = new DockerClient({ socketPath: join(dir, 'absent.sock') });
    await expect(absent.ping()).rejects.toMatchObject({ code: 'Unavailable', statusCode: 0 });
    await absent.close();
  });
});
