import { describe, expect, it } from 'vitest';
import type { KubeObject } from '@flotilla/api';
import { composeHooks, type WriteHooks } from './generic-store.js';
import { limitRangeAdmission, type LimitRangeView } from './quota-admission.js';

const ctx = {} as never;

describe('limitRangeAdmission', () => {
  const ranges: LimitRangeView[] = [{ metadata: { name: 'r' }, spec: { limits: [{ type: 'Container', max: { memory: '1Gi' }, min: { cpu: '50m' } }] } }];
  const admit = limitRangeAdmission('pods', () => ranges);
  const pod = (resources: unknown): KubeObject => ({ metadata: { name: 'p', namespace: 'ns' }, spec: { containers: [{ name: 'c', image: 'i', ...(resources ? { resources } : {}) }] } });

  it('defaults limits from max and requests from min, and a request from its limit', () => {
    const p = pod(undefined);
    admit(p, ctx);
    expect((p['spec'] as { containers: { resources: unknown }[] }).containers[0]!.resources).toEqual({ limits: { memory: '1Gi' }, requests: { memory: '1Gi', cpu: '50m' } });
    const q = pod({ limits: { cpu: '100m' } });
    admit(q, ctx);
    expect((q['spec'] as { containers: { resources: unknown }[] }).containers[0]!.resources).toEqual({ limits: { cpu: '100m', memory: '1Gi' }, requests: { cpu: '100m', memory: '1Gi' } });
  });

  it('reports the first failure of each constraint', () => {
    expect(() => admit(pod({ requests: { cpu: '10m' }, limits: { memory: '2Gi' } }), ctx)).toThrow('pods "p" is forbidden: [minimum cpu usage per Container is 50m, but request is 10m, maximum memory usage per Container is 1Gi, but limit is 2Gi]');
  });

  it('leaves pods alone in namespaces without LimitRanges', () => {
    const p = pod(undefined);
    limitRangeAdmission('pods', () => [])(p, ctx);
    expect((p['spec'] as { containers: { resources?: unknown }[] }).containers[0]!.resources).toBeUndefined();
  });
});

describe('composeHooks', () => {
  function recording(name: string, log: string[], fail = false): WriteHooks {
    return {
      async beginCreate() {
        if (fail) throw new Error(`${name} refused`);
        log.push(`${name} begin`);
        return async (committed) => void log.push(`${name} finish ${committed}`);
      },
      async beginUpdate() {
        return async () => undefined;
      },
      async afterDelete() {
        log.push(`${name} deleted`);
      },
    };
  }

  it('begins in order and finishes in reverse', async () => {
    const log: string[] = [];
    const hooks = composeHooks(recording('quota', log), undefined, recording('allocator', log))!;
    const finish = await hooks.beginCreate({ metadata: {} }, { dryRun: false });
    await finish(true);
    await hooks.afterDelete({ metadata: {} });
    expect(log).toEqual(['quota begin', 'allocator begin', 'allocator finish true', 'quota finish true', 'quota deleted', 'allocator deleted']);
  });

  it('undoes the hooks already begun when a later one refuses', async () => {
    const log: string[] = [];
    const hooks = composeHooks(recording('quota', log), recording('allocator', log, true))!;
    await expect(hooks.beginCreate({ metadata: {} }, { dryRun: false })).rejects.toThrow('allocator refused');
    expect(log).toEqual(['quota begin', 'quota finish false']);
  });

  it('is the one hook itself when only one is given', () => {
    const only = recording('x', []);
    expect(composeHooks(undefined, only)).toBe(only);
    expect(composeHooks()).toBeUndefined();
  });
});
