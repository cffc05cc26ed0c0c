import protobuf from 'protobufjs/minimal.js';
import { describe, expect, it } from 'vitest';
import { ApiError } from '../api-error.js';
import { decodeKubernetesProtobuf, formatGoDuration, protobufMessageOf } from './protobuf-decoder.js';

// Hand-built wire data, field by field, the way a proto2 encoder of the Go structs writes it.
type Field = [number, 'varint', number | bigint] | [number, 'bytes', Uint8Array | string | Field[]] | [number, 'fixed64', number];

function encode(fields: Field[]): Uint8Array {
  const w = protobuf.Writer.create();
  for (const [n, kind, v] of fields) {
    if (kind === 'varint') {
      w.uint32((n << 3) | 0);
      if (typeof v === 'bigint') w.int64(protobuf.util.LongBits.from(v.toString()).toLong());
      else w.int64(v as number);
    } else if (kind === 'fixed64') {
      w.uint32((n << 3) | 1).double(v as number);
    } else {
      w.uint32((n << 3) | 2);
      if (typeof v === 'string') w.string(v);
      else if (v instanceof Uint8Array) w.bytes(v);
      else w.bytes(encode(v as Field[]));
    }
  }
  return w.finish();
}

function envelope(apiVersion: string, kind: string, raw: Field[], extra: Field[] = []): Buffer {
  const unknown = encode([[1, 'bytes', [[1, 'bytes', apiVersion], [2, 'bytes', kind]]], [2, 'bytes', encode(raw)], ...extra]);
  return Buffer.concat([Buffer.from('k8s\0', 'latin1'), unknown]);
}

const meta = (name: string, extra: Field[] = []): Field => [1, 'bytes', [[1, 'bytes', name], [2, 'bytes', ''], [3, 'bytes', ''], [7, 'varint', 0], ...extra]];
const intOrString = (v: number | string): Field[] => (typeof v === 'number' ? [[1, 'varint', 0], [2, 'varint', v], [3, 'bytes', '']] : [[1, 'varint', 1], [2, 'varint', 0], [3, 'bytes', v]]);

function container(name: string, extra: Field[] = []): Field[] {
  // Every non-pointer scalar of Container is on the wire, zero or not.
  return [[1, 'bytes', name], [2, 'bytes', 'busybox'], [5, 'bytes', ''], [13, 'bytes', '/dev/termination-log'], [14, 'bytes', ''], [16, 'varint', 0], [17, 'varint', 0], [18, 'varint', 0], [8, 'bytes', []], ...extra];
}

function rejects(body: Uint8Array, code: number, message: RegExp): void {
  let error: unknown;
  try {
    decodeKubernetesProtobuf(body);
  } catch (err) {
    error = err;
  }
  expect(error).toBeInstanceOf(ApiError);
  expect((error as ApiError).code).toBe(code);
  expect((error as ApiError).message).toMatch(message);
}

describe('decodeKubernetesProtobuf', () => {
  it('decodes a Deployment as encoding/json writes the Go object: pointer zeros kept, non-pointer zeros dropped', () => {
    const template: Field[] = [
      [1, 'bytes', [[11, 'bytes', [[1, 'bytes', 'app'], [2, 'bytes', 'web']]]]],
      [2, 'bytes', [[2, 'bytes', container('web', [[6, 'bytes', [[1, 'bytes', 'http'], [2, 'varint', 0], [3, 'varint', 8080], [4, 'bytes', 'TCP'], [5, 'bytes', '']]]])], [11, 'varint', 0], [3, 'bytes', '']]],
    ];
    const spec: Field[] = [
      [1, 'varint', 0], // replicas: *int32 set to 0
      [2, 'bytes', [[1, 'bytes', [[1, 'bytes', 'app'], [2, 'bytes', 'web']]]]],
      [3, 'bytes', template],
      [4, 'bytes', [[1, 'bytes', 'RollingUpdate'], [2, 'bytes', [[1, 'bytes', intOrString(0)], [2, 'bytes', intOrString('25%')]]]]],
      [5, 'varint', 0], // minReadySeconds: int32, omitempty
      [7, 'varint', 0], // paused: bool, omitempty
    ];
    const obj = decodeKubernetesProtobuf(envelope('apps/v1', 'Deployment', [meta('web'), [2, 'bytes', spec]]));
    expect(obj).toEqual({
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'web' },
      spec: {
        replicas: 0,
        selector: { matchLabels: { app: 'web' } },
        template: {
          metadata: { labels: { app: 'web' } },
          spec: { containers: [{ name: 'web', image: 'busybox', terminationMessagePath: '/dev/termination-log', resources: {}, ports: [{ name: 'http', containerPort: 8080, protocol: 'TCP' }] }] },
        },
        strategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 0, maxSurge: '25%' } },
      },
    });
  });

  it('keeps a non-omitempty zero, drops a zero IntOrString a non-pointer field leaves unset', () => {
    const port: Field[] = [[1, 'bytes', ''], [2, 'bytes', 'TCP'], [3, 'varint', 80], [4, 'bytes', intOrString(0)], [5, 'varint', 0]];
    const obj = decodeKubernetesProtobuf(envelope('v1', 'Service', [meta('s'), [2, 'bytes', [[1, 'bytes', port], [12, 'varint', 0], [13, 'varint', 0]]]]));
    expect(obj['spec']).toEqual({ ports: [{ protocol: 'TCP', port: 80 }] });
    const probe = decodeKubernetesProtobuf(envelope('v1', 'Pod', [meta('p'), [2, 'bytes', [[2, 'bytes', container('c', [[11, 'bytes', [[1, 'bytes', [[2, 'bytes', [[1, 'bytes', '/'], [2, 'bytes', intOrString(0)]]]]]]]])]]]]));
    // HTTPGetAction.port has no omitempty: its zero reaches validation, as in Kubernetes.
    expect((probe['spec'] as { containers: { readinessProbe: unknown }[] }).containers[0]!.readinessProbe).toEqual({ httpGet: { path: '/', port: 0 } });
  });

  it('inlines embedded structs (volume sources, probe handlers, selectors by name)', () => {
    const volume: Field[] = [[1, 'bytes', 'config'], [2, 'bytes', [[19, 'bytes', [[1, 'bytes', [[1, 'bytes', 'settings']]], [3, 'varint', 420]]]]]];
    const env: Field[] = [[1, 'bytes', 'PASSWORD'], [2, 'bytes', ''], [3, 'bytes', [[4, 'bytes', [[1, 'bytes', [[1, 'bytes', 'db']]], [2, 'bytes', 'password']]]]]];
    const obj = decodeKubernetesProtobuf(envelope('v1', 'Pod', [meta('p'), [2, 'bytes', [[1, 'bytes', volume], [2, 'bytes', container('c', [[7, 'bytes', env]])]]]]));
    const spec = obj['spec'] as { volumes: unknown[]; containers: { env: unknown[] }[] };
    expect(spec.volumes).toEqual([{ name: 'config', configMap: { name: 'settings', defaultMode: 420 } }]);
    expect(spec.containers[0]!.env).toEqual([{ name: 'PASSWORD', valueFrom: { secretKeyRef: { name: 'db', key: 'password' } } }]);
  });

  it('turns bytes into base64, quantities into strings and times into RFC 3339', () => {
    const secret = decodeKubernetesProtobuf(
      envelope('v1', 'Secret', [meta('s', [[8, 'bytes', [[1, 'varint', 1_700_000_000], [2, 'varint', 5]]]]), [2, 'bytes', [[1, 'bytes', 'key'], [2, 'bytes', Buffer.from([0, 1, 2, 255])]]], [3, 'bytes', 'Opaque']]),
    );
    expect(secret).toEqual({ apiVersion: 'v1', kind: 'Secret', metadata: { name: 's', creationTimestamp: '2023-11-14T22:13:20Z' }, data: { key: 'AAEC/w==' }, type: 'Opaque' });
    const quota = decodeKubernetesProtobuf(envelope('v1', 'ResourceQuota', [meta('q'), [2, 'bytes', [[1, 'bytes', [[1, 'bytes', 'cpu'], [2, 'bytes', [[1, 'bytes', '500m']]]]]]]]));
    expect(quota['spec']).toEqual({ hard: { cpu: '500m' } });
    const lease = decodeKubernetesProtobuf(envelope('coordination.k8s.io/v1', 'Lease', [meta('l'), [2, 'bytes', [[1, 'bytes', 'me'], [3, 'bytes', [[1, 'varint', 1_700_000_000], [2, 'varint', 123_456_789]]]]]]));
    expect(lease['spec']).toEqual({ holderIdentity: 'me', acquireTime: '2023-11-14T22:13:20.123456Z' });
  });

  it('reads negative and 64-bit integers, packed and unpacked repeated scalars', () => {
    const w = protobuf.Writer.create();
    w.int64(5).int64(3_000_000_000);
    const run = w.finish();
    const sc: Field[] = [[4, 'bytes', run], [4, 'varint', 9], [5, 'varint', -1n]];
    const obj = decodeKubernetesProtobuf(envelope('v1', 'Pod', [meta('p', [[10, 'varint', -5n]]), [2, 'bytes', [[14, 'bytes', sc]]]]));
    expect((obj['metadata'] as Record<string, unknown>)['deletionGracePeriodSeconds']).toBe(-5);
    expect((obj['spec'] as Record<string, unknown>)['securityContext']).toEqual({ supplementalGroups: [5, 3_000_000_000, 9], fsGroup: -1 });
  });

  it('keeps map keys as data ("__proto__" included) and gives absent map values their zero', () => {
    const obj = decodeKubernetesProtobuf(envelope('v1', 'ConfigMap', [meta('c'), [2, 'bytes', [[1, 'bytes', '__proto__'], [2, 'bytes', 'x']]], [2, 'bytes', [[1, 'bytes', 'empty']]]]));
    const data = obj['data'] as Record<string, unknown>;
    expect(Object.getPrototypeOf(data)).toBe(Object.prototype);
    expect(JSON.stringify(data)).toBe('{"__proto__":"x","empty":""}');
  });

  it('skips fields it does not know (newer clients), as Kubernetes does', () => {
    const obj = decodeKubernetesProtobuf(envelope('v1', 'ConfigMap', [meta('c'), [2, 'bytes', [[1, 'bytes', 'a'], [2, 'bytes', 'b']]], [99, 'bytes', 'future'], [98, 'varint', 3], [97, 'fixed64', 1.5]]));
    expect(obj).toEqual({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'c' }, data: { a: 'b' } });
  });

  it('decodes DeleteOptions, Eviction, TokenRequest and access reviews', () => {
    expect(decodeKubernetesProtobuf(envelope('v1', 'DeleteOptions', [[1, 'varint', 0], [4, 'bytes', 'Foreground']]))).toEqual({ apiVersion: 'v1', kind: 'DeleteOptions', gracePeriodSeconds: 0, propagationPolicy: 'Foreground' });
    expect(decodeKubernetesProtobuf(envelope('policy/v1', 'Eviction', [meta('p')]))).toEqual({ apiVersion: 'policy/v1', kind: 'Eviction', metadata: { name: 'p' } });
    expect(decodeKubernetesProtobuf(envelope('authentication.k8s.io/v1', 'TokenRequest', [meta(''), [2, 'bytes', [[1, 'bytes', 'api'], [4, 'varint', 600]]]]))).toEqual({
      apiVersion: 'authentication.k8s.io/v1',
      kind: 'TokenRequest',
      metadata: {},
      spec: { audiences: ['api'], expirationSeconds: 600 },
    });
    expect(protobufMessageOf('authorization.k8s.io/v1', 'SelfSubjectAccessReview')).toBe('k8s.io.api.authorization.v1.SelfSubjectAccessReview');
  });

  it('rejects malformed bodies with a 400 and kinds it has no schema for with a 415', () => {
    rejects(Buffer.from('{"kind":"Pod"}'), 400, /prefix/);
    rejects(Buffer.from('k8s\0', 'latin1'), 400, /does not name the apiVersion and kind/);
    rejects(envelope('example.com/v1', 'Widget', []), 415, /no protobuf schema for example.com\/v1, Kind=Widget/);
    rejects(envelope('v1', 'ConfigMap', [], [[3, 'bytes', 'gzip']]), 415, /content encoding "gzip"/);
    const good = envelope('v1', 'ConfigMap', [meta('c'), [2, 'bytes', [[1, 'bytes', 'a'], [2, 'bytes', 'b']]]]);
    rejects(good.subarray(0, good.length - 3), 400, /invalid protobuf/);
    rejects(envelope('v1', 'ConfigMap', [[1, 'varint', 5]]), 400, /field metadata of k8s.io.api.core.v1.ConfigMap: wire type 0 for a message/);
  });
});

describe('decodeKubernetesProtobuf on damaged input', () => {
  it('answers every mutation of a valid body with an object or an ApiError, never another exception', () => {
    const good = envelope('apps/v1', 'Deployment', [meta('web', [[11, 'bytes', [[1, 'bytes', 'app'], [2, 'bytes', 'web']]]]), [2, 'bytes', [[1, 'varint', 3], [3, 'bytes', [[2, 'bytes', [[2, 'bytes', container('c')]]]]]]]]);
    let seed = 42;
    const random = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    for (let i = 0; i < 3000; i++) {
      const body = Buffer.from(good);
      for (let n = 1 + Math.floor(random() * 4); n > 0; n--) body[4 + Math.floor(random() * (body.length - 4))] = Math.floor(random() * 256);
      const cut = random() < 0.3 ? body.subarray(0, 4 + Math.floor(random() * (body.length - 4))) : body;
      try {
        const obj = decodeKubernetesProtobuf(cut);
        expect(typeof obj).toBe('object');
      } catch (err) {
        expect(err, String(err)).toBeInstanceOf(ApiError);
      }
    }
  });
});

describe('formatGoDuration', () => {
  it("prints Go's time.Duration strings", () => {
    expect(formatGoDuration(0)).toBe('0s');
    expect(formatGoDuration(1500)).toBe('1.5µs');
    expect(formatGoDuration(150_000_000)).toBe('150ms');
    expect(formatGoDuration(3_723_500_000_000)).toBe('1h2m3.5s');
    expect(formatGoDuration(-90e9)).toBe('-1m30s');
  });
});
