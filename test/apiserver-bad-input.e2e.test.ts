/**
 * Malformed and forbidden requests against a real API server: each gets its Kubernetes Status (code
 * and reason) and none of them changes anything.
 */
import { connect as connectTls } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApiServer, type ApiServerProcess } from './harness/apiserver.js';
import { RawClient, type RawRequestOptions } from './harness/http.js';
import { killAll, tempDir } from './harness/processes.js';

let server: ApiServerProcess;
let client: RawClient;
let dir: ReturnType<typeof tempDir>;
const NS = 'bad-input';

const goodPod = { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'ok' }, spec: { containers: [{ name: 'c', image: 'busybox:1.36' }] } };
/** A Kubernetes protobuf envelope naming apiVersion and kind, with no object bytes. */
const protobufEnvelope = (apiVersion: string, kind: string) => {
  const str = (field: number, text: string) => Buffer.concat([Buffer.from([(field << 3) | 2, Buffer.byteLength(text)]), Buffer.from(text)]);
  const typeMeta = Buffer.concat([str(1, apiVersion), str(2, kind)]);
  return Buffer.concat([Buffer.from('k8s\0', 'latin1'), Buffer.from([0x0a, typeMeta.length]), typeMeta]);
};
const withPod = (patch: (p: Record<string, unknown>) => void) => {
  const p = structuredClone(goodPod) as unknown as Record<string, unknown>;
  patch(p);
  return JSON.stringify(p);
};

beforeAll(async () => {
  dir = tempDir('bad-input');
  server = await startApiServer(dir.path);
  client = new RawClient(server.url, server.caPem, server.token);
  expect((await client.request('/api/v1/namespaces', { method: 'POST', body: JSON.stringify({ metadata: { name: NS } }) })).status).toBe(201);
  expect((await client.request(`/api/v1/namespaces/${NS}/pods`, { method: 'POST', body: JSON.stringify(goodPod) })).status).toBe(201);
  expect((await client.request(`/api/v1/namespaces/${NS}/configmaps`, { method: 'POST', body: JSON.stringify({ metadata: { name: 'cm' }, data: { a: 'b' } }) })).status).toBe(201);
});

afterAll(async () => {
  client?.close();
  await server?.stop();
  await killAll();
  dir?.remove();
});

interface Case {
  name: string;
  path: string;
  options: RawRequestOptions;
  code: number;
  reason: string;
  message?: RegExp;
  field?: string;
}

const pods = `/api/v1/namespaces/${NS}/pods`;
const cases: Case[] = [
  { name: 'malformed JSON', path: pods, options: { method: 'POST', body: '{"metadata": {' }, code: 400, reason: 'BadRequest' },
  { name: 'a JSON array instead of an object', path: pods, options: { method: 'POST', body: '[1,2]' }, code: 400, reason: 'BadRequest' },
  { name: 'an empty body', path: pods, options: { method: 'POST', body: '' }, code: 400, reason: 'BadRequest' },
  { name: 'the wrong kind for the endpoint', path: pods, options: { method: 'POST', body: withPod((p) => (p['kind'] = 'Service')) }, code: 400, reason: 'BadRequest', message: /kind/ },
  { name: 'the wrong apiVersion', path: pods, options: { method: 'POST', body: withPod((p) => (p['apiVersion'] = 'apps/v1')) }, code: 400, reason: 'BadRequest', message: /API version/ },
  { name: 'an unknown field with fieldValidation=Strict', path: `${pods}?fieldValidation=Strict`, options: { method: 'POST', body: withPod((p) => ((p['spec'] as Record<string, unknown>)['bogus'] = 1)) }, code: 400, reason: 'BadRequest', message: /unknown field "spec.bogus"/ },
  { name: 'a string where an integer belongs', path: pods, options: { method: 'POST', body: withPod((p) => ((p['spec'] as Record<string, unknown>)['terminationGracePeriodSeconds'] = 'thirty')) }, code: 400, reason: 'BadRequest' },
  { name: 'an object where a list belongs', path: pods, options: { method: 'POST', body: withPod((p) => ((p['spec'] as Record<string, unknown>)['containers'] = { name: 'c' })) }, code: 400, reason: 'BadRequest' },
  { name: 'a name that is not DNS-1123', path: pods, options: { method: 'POST', body: withPod((p) => ((p['metadata'] as Record<string, unknown>)['name'] = 'Bad_Name')) }, code: 422, reason: 'Invalid', field: 'metadata.name' },
  { name: 'a container without an image', path: pods, options: { method: 'POST', body: withPod((p) => (((p['spec'] as Record<string, unknown>)['containers'] as Record<string, unknown>[])[0]!['image'] = undefined)) }, code: 422, reason: 'Invalid', field: 'spec.containers[0].image' },
  { name: 'a bad label value', path: pods, options: { method: 'POST', body: withPod((p) => ((p['metadata'] as Record<string, unknown>)['labels'] = { a: 'not ok!' })) }, code: 422, reason: 'Invalid' },
  { name: 'a namespace that does not exist', path: '/api/v1/namespaces/nope/pods', options: { method: 'POST', body: JSON.stringify(goodPod) }, code: 404, reason: 'NotFound', message: /namespaces "nope" not found/ },
  { name: 'a body namespace that differs from the URL', path: pods, options: { method: 'POST', body: withPod((p) => ((p['metadata'] as Record<string, unknown>)['namespace'] = 'other')) }, code: 400, reason: 'BadRequest' },
  { name: 'an oversized body', path: pods, options: { method: 'POST', body: withPod((p) => ((p['metadata'] as Record<string, unknown>)['annotations'] = { big: 'x'.repeat(4 * 1024 * 1024) })) }, code: 413, reason: 'RequestEntityTooLarge' },
  { name: 'a protobuf body without the envelope', path: pods, options: { method: 'POST', headers: { 'Content-Type': 'application/vnd.kubernetes.protobuf' }, body: JSON.stringify(goodPod) }, code: 400, reason: 'BadRequest', message: /"k8s\\x00" prefix/ },
  { name: 'a protobuf envelope naming no kind', path: pods, options: { method: 'POST', headers: { 'Content-Type': 'application/vnd.kubernetes.protobuf' }, body: Buffer.from([0x6b, 0x38, 0x73, 0x00]) }, code: 400, reason: 'BadRequest' },
  { name: 'a protobuf body of a kind without a protobuf schema', path: pods, options: { method: 'POST', headers: { 'Content-Type': 'application/vnd.kubernetes.protobuf' }, body: protobufEnvelope('example.com/v1', 'Widget') }, code: 415, reason: 'UnsupportedMediaType' },
  { name: 'a protobuf body of another kind than the endpoint', path: pods, options: { method: 'POST', headers: { 'Content-Type': 'application/vnd.kubernetes.protobuf' }, body: protobufEnvelope('v1', 'ConfigMap') }, code: 400, reason: 'BadRequest', message: /does not match the expected kind \(Pod\)/ },
  { name: 'an unsupported patch type', path: `${pods}/ok`, options: { method: 'PATCH', headers: { 'Content-Type': 'text/plain' }, body: 'x' }, code: 415, reason: 'UnsupportedMediaType' },
  { name: 'a duplicate create', path: pods, options: { method: 'POST', body: JSON.stringify(goodPod) }, code: 409, reason: 'AlreadyExists', message: /pods "ok" already exists/ },
  { name: 'a stale resourceVersion on update', path: `/api/v1/namespaces/${NS}/configmaps/cm`, options: { method: 'PUT', body: JSON.stringify({ metadata: { name: 'cm', resourceVersion: '1' }, data: { a: 'changed' } }) }, code: 409, reason: 'Conflict' },
  { name: 'a delete with a wrong uid precondition', path: `/api/v1/namespaces/${NS}/configmaps/cm`, options: { method: 'DELETE', body: JSON.stringify({ preconditions: { uid: '00000000-0000-0000-0000-000000000000' } }) }, code: 409, reason: 'Conflict' },
  { name: 'no credentials', path: pods, options: { token: null }, code: 401, reason: 'Unauthorized' },
  { name: 'a wrong token', path: pods, options: { token: 'not-a-token' }, code: 401, reason: 'Unauthorized' },
  { name: 'an unknown resource', path: `/api/v1/namespaces/${NS}/widgets`, options: {}, code: 404, reason: 'NotFound' },
  { name: 'an unknown group', path: '/apis/example.com/v1/widgets', options: {}, code: 404, reason: 'NotFound' },
  { name: 'a malformed label selector', path: `${pods}?labelSelector=app+in+web`, options: {}, code: 400, reason: 'BadRequest' },
  { name: 'an unknown field selector', path: `${pods}?fieldSelector=spec.bogus%3Dx`, options: {}, code: 400, reason: 'BadRequest', message: /"spec.bogus" is not a known field selector/ },
  { name: 'a bad continue token', path: `${pods}?limit=1&continue=garbage`, options: {}, code: 400, reason: 'BadRequest' },
  { name: 'an invalid dryRun value', path: `${pods}?dryRun=Yes`, options: { method: 'POST', body: JSON.stringify(goodPod) }, code: 400, reason: 'BadRequest' },
  { name: 'an invalid fieldValidation value', path: `${pods}?fieldValidation=Loose`, options: { method: 'POST', body: JSON.stringify(goodPod) }, code: 400, reason: 'BadRequest' },
  { name: 'a patch of a missing object', path: `${pods}/missing`, options: { method: 'PATCH', headers: { 'Content-Type': 'application/merge-patch+json' }, body: '{"metadata":{"labels":{"a":"b"}}}' }, code: 404, reason: 'NotFound' },
  { name: 'a merge patch that is not an object', path: `${pods}/ok`, options: { method: 'PATCH', headers: { 'Content-Type': 'application/merge-patch+json' }, body: '"x"' }, code: 400, reason: 'BadRequest' },
  { name: 'a patch changing an immutable pod field', path: `${pods}/ok`, options: { method: 'PATCH', headers: { 'Content-Type': 'application/merge-patch+json' }, body: '{"spec":{"restartPolicy":"Never"}}' }, code: 422, reason: 'Invalid' },
  { name: 'POST to an object URL', path: `${pods}/ok`, options: { method: 'POST', body: JSON.stringify(goodPod) }, code: 405, reason: 'MethodNotAllowed' },
  { name: 'a binding to an already bound pod target missing', path: `${pods}/ok/binding`, options: { method: 'POST', body: JSON.stringify({ kind: 'Binding', metadata: { name: 'ok' }, target: {} }) }, code: 422, reason: 'Invalid' },
  { name: 'deleting a protected namespace', path: '/api/v1/namespaces/kube-system', options: { method: 'DELETE' }, code: 403, reason: 'Forbidden' },
];

async function snapshot(): Promise<string> {
  const parts: string[] = [];
  for (const p of [`/api/v1/namespaces/${NS}/pods`, `/api/v1/namespaces/${NS}/configmaps`, '/api/v1/namespaces']) {
    const r = (await client.request(p)).json as { items: { metadata: { name: string; resourceVersion: string } }[] };
    parts.push(r.items.map((i) => `${i.metadata.name}@${i.metadata.resourceVersion}`).join(','));
  }
  return parts.join('|');
}

describe('public endpoints and metrics', () => {
  it('answers health and version without credentials, everything else needs them', async () => {
    for (const path of ['/healthz', '/livez', '/readyz', '/version']) {
      expect((await client.request(path, { token: null })).status, path).toBe(200);
    }
    for (const path of ['/api', '/apis', '/openapi/v3', '/metrics', '/api/v1/namespaces']) {
      expect((await client.request(path, { token: null })).status, path).toBe(401);
    }
  });

  it('exports Prometheus metrics about requests, watches and storage batches', async () => {
    const r = await client.request('/metrics', { headers: { Accept: 'text/plain' } });
    expect(r.status).toBe(200);
    expect(r.body).toMatch(/apiserver_request_total\{verb="create",resource="pods",subresource="",code="201"\} \d+/);
    expect(r.body).toMatch(/apiserver_request_duration_seconds_bucket\{/);
    expect(r.body).toMatch(/apiserver_registered_watchers \d+/);
    expect(r.body).toMatch(/apiserver_storage_batches_total \d+/);
    expect(r.body).toMatch(/apiserver_storage_objects\{resource="pods"\} \d+/);
  });
});

describe('bad input gets a Status and changes nothing', () => {
  it.each(cases)('$name -> $code $reason', async (c) => {
    const before = await snapshot();
    const r = await client.request(c.path, c.options);
    expect(r.headers['content-type']).toMatch(/^application\/json/);
    const status = r.json as { kind: string; status: string; code: number; reason: string; message: string; details?: { causes?: { field?: string }[] } };
    expect({ http: r.status, kind: status.kind, status: status.status, code: status.code, reason: status.reason }).toEqual({ http: c.code, kind: 'Status', status: 'Failure', code: c.code, reason: c.reason });
    expect(status.message).toBeTruthy();
    if (c.message) expect(status.message).toMatch(c.message);
    if (c.field) expect(status.details?.causes?.map((x) => x.field)).toContain(c.field);
    expect(await snapshot()).toBe(before);
  });
});

describe("requests Go's HTTP server refuses", () => {
  it('two Host headers -> 400 BadRequest, and the write is not made', async () => {
    const { host, port } = new URL(server.url);
    const body = JSON.stringify({ metadata: { name: 'two-hosts' }, data: {} });
    const raw = [`POST /api/v1/namespaces/${NS}/configmaps HTTP/1.1`, `Host: ${host}`, 'Host: other.example', `Authorization: Bearer ${server.token}`, 'Content-Type: application/json', `Content-Length: ${Buffer.byteLength(body)}`, 'Connection: close', '', body].join('\r\n');
    const answer = await new Promise<string>((resolve, reject) => {
      const socket = connectTls({ host: '127.0.0.1', port: Number(port), ca: server.caPem, servername: 'localhost' }, () => socket.end(raw));
      let text = '';
      socket.setEncoding('utf8');
      socket.on('data', (d: string) => (text += d));
      socket.on('end', () => resolve(text));
      socket.on('error', reject);
    });
    expect(answer).toMatch(/^HTTP\/1\.1 400 /);
    const status = JSON.parse(answer.slice(answer.indexOf('\r\n\r\n') + 4)) as { kind: string; reason: string; message: string };
    expect(status).toMatchObject({ kind: 'Status', reason: 'BadRequest', message: 'too many Host headers' });
    expect((await client.request(`/api/v1/namespaces/${NS}/configmaps/two-hosts`)).status).toBe(404);
  });
});
