import { describe, expect, it } from 'vitest';
import { parseDurationMs } from './cli-context.js';
import { formatError } from './cli-error.js';
import { deploymentStatus } from './commands/rollout.js';
import { splitKeyValueArgs } from './commands/label.js';
import { parseWaitFor } from './commands/wait.js';
import { stableStringify, withLastApplied, LAST_APPLIED } from './commands/apply.js';
import { main } from './main.js';
import { parseManifests } from './manifest-reader.js';
import { parseResourceArgs } from './resource-args.js';
import { ApiError } from '@flotilla/api';

function captureIO() {
  let out = '';
  let err = '';
  return {
    io: { stdout: { write: (s: string) => (out += s) }, stderr: { write: (s: string) => (err += s) }, stdin: process.stdin },
    out: () => out,
    err: () => err,
  };
}

describe('argument parsing', () => {
  it('splits TYPE[,TYPE] NAME… and TYPE/NAME forms', () => {
    expect(parseResourceArgs(['pods,svc', 'a', 'b'])).toEqual([
      { type: 'pods', names: ['a', 'b'] },
      { type: 'svc', names: ['a', 'b'] },
    ]);
    expect(parseResourceArgs(['pod/a', 'deploy/b', 'pod/c'])).toEqual([
      { type: 'pod', names: ['a', 'c'] },
      { type: 'deploy', names: ['b'] },
    ]);
    expect(() => parseResourceArgs(['pods', 'pod/a'])).toThrow(/resource\/name form/);
  });

  it('splits label arguments', () => {
    expect(splitKeyValueArgs(['pods', 'x', 'a=b', 'c-'])).toEqual({ resources: ['pods', 'x'], set: { a: 'b' }, remove: ['c'] });
  });

  it('parses Go durations', () => {
    expect(parseDurationMs('1m30s')).toBe(90_000);
    expect(parseDurationMs('500ms')).toBe(500);
    expect(parseDurationMs('2')).toBe(2000);
    expect(parseDurationMs('abc')).toBeUndefined();
  });

  it('parses --for', () => {
    const c = parseWaitFor('condition=Available');
    expect(c.kind).toBe('predicate');
    if (c.kind === 'predicate') {
      expect(c.predicate({ metadata: {}, status: { conditions: [{ type: 'Available', status: 'True' }] } } as never)).toBe(true);
      expect(c.predicate({ metadata: {}, status: { conditions: [{ type: 'Available', status: 'False' }] } } as never)).toBe(false);
    }
    const j = parseWaitFor('jsonpath={.status.phase}=Running');
    if (j.kind === 'predicate') expect(j.predicate({ metadata: {}, status: { phase: 'Running' } } as never)).toBe(true);
    expect(parseWaitFor('delete')).toEqual({ kind: 'delete' });
    expect(() => parseWaitFor('bogus')).toThrow(/unrecognized/);
  });

  it('reads multi-document manifests and expands Lists', () => {
    const ms = parseManifests('---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n---\n\n---\napiVersion: v1\nkind: List\nitems:\n- {apiVersion: v1, kind: Secret, metadata: {name: s}}\n', 'f.yaml');
    expect(ms.map((m) => m.object.kind)).toEqual(['ConfigMap', 'Secret']);
    expect(() => parseManifests('metadata: {name: a}\n', 'f.yaml')).toThrow(/apiVersion or kind not set/);
  });
});

describe('errors and exit codes', () => {
  it('prints server errors like kubectl', () => {
    expect(formatError(new ApiError(404, 'NotFound', 'pods "x" not found'))).toBe('Error from server (NotFound): pods "x" not found');
    expect(formatError(new Error('boom'))).toBe('error: boom');
  });

  it('exits 1 on unknown flags and commands, 0 on help', async () => {
    const a = captureIO();
    expect(await main(['get', '--bogus'], a.io)).toBe(1);
    expect(a.err()).toContain("unknown option '--bogus'");
    const b = captureIO();
    expect(await main(['frobnicate'], b.io)).toBe(1);
    const c = captureIO();
    expect(await main(['--help'], c.io)).toBe(0);
    expect(c.out()).toContain('apply');
  });

  it('prints the client version without a server', async () => {
    const a = captureIO();
    expect(await main(['version', '--client'], a.io)).toBe(0);
    expect(a.out()).toMatch(/^Client Version: v1\.31\.0/);
  });
});

describe('apply annotation', () => {
  it('stores the configuration as sorted JSON without the annotation itself', () => {
    const obj = withLastApplied({ kind: 'ConfigMap', apiVersion: 'v1', metadata: { name: 'x' }, data: { b: '1', a: '2' } });
    const annotations = (obj['metadata'] as { annotations: Record<string, string> }).annotations;
    expect(annotations[LAST_APPLIED]).toBe('{"apiVersion":"v1","data":{"a":"2","b":"1"},"kind":"ConfigMap","metadata":{"annotations":{},"name":"x"}}\n');
    expect(stableStringify({ b: [1, { d: 1, c: 2 }], a: null })).toBe('{"a":null,"b":[1,{"c":2,"d":1}]}');
  });
});

describe('rollout status messages', () => {
  const d = (status: Record<string, unknown>, generation = 1) => ({ metadata: { name: 'web', generation }, spec: { replicas: 3 }, status: { observedGeneration: 1, ...status } });
  it('follows kubectl wording', () => {
    expect(deploymentStatus(d({}, 2)).message).toBe('Waiting for deployment spec update to be observed...');
    expect(deploymentStatus(d({ updatedReplicas: 1 })).message).toBe('Waiting for deployment "web" rollout to finish: 1 out of 3 new replicas have been updated...');
    expect(deploymentStatus(d({ updatedReplicas: 3, replicas: 4 })).message).toBe('Waiting for deployment "web" rollout to finish: 1 old replicas are pending termination...');
    expect(deploymentStatus(d({ updatedReplicas: 3, replicas: 3, availableReplicas: 2 })).message).toBe('Waiting for deployment "web" rollout to finish: 2 of 3 updated replicas are available...');
    expect(deploymentStatus(d({ updatedReplicas: 3, replicas: 3, availableReplicas: 3 }))).toEqual({ message: 'deployment "web" successfully rolled out', done: true });
    expect(deploymentStatus(d({ conditions: [{ type: 'Progressing', status: 'False', reason: 'ProgressDeadlineExceeded' }] })).failed).toBe(true);
  });
});
