import { describe, expect, it } from 'vitest';
import pino from 'pino';
import { findResource } from '@flotilla/api';
import { FakeClient } from '../testing/fake-client.js';
import { SharedInformer, deletedObject } from './shared-informer.js';

const pods = findResource('', 'v1', 'pods')!;
const log = pino({ level: 'silent' });
const tick = () => new Promise((r) => setImmediate(r));

describe('SharedInformer', () => {
  it('lists, then follows watch events into its cache and handlers', async () => {
    const client = new FakeClient([{ resource: pods, objects: [{ metadata: { name: 'a', namespace: 'ns' } }] }]);
    const inf = new SharedInformer(client, { resource: pods, logger: log });
    const seen: string[] = [];
    inf.addEventHandler({
      onAdd: (o) => seen.push(`add ${o.metadata.name}`),
      onUpdate: (_a, b) => seen.push(`update ${b.metadata.name}`),
      onDelete: (o) => seen.push(`delete ${deletedObject(o).metadata.name}`),
    });
    const ctl = new AbortController();
    const run = inf.run(ctl.signal);
    await inf.waitForSync();
    expect(inf.lister.get('ns', 'a')).toBeDefined();
    await tick();
    await client.create(pods, 'ns', { metadata: { name: 'b', labels: { x: 'y' } } });
    await client.patch(pods, 'ns', 'a', { metadata: { labels: { z: '1' } } }, 'merge');
    await client.delete(pods, 'ns', 'b');
    await tick();
    expect(seen).toEqual(['add a', 'add b', 'update a', 'delete b']);
    expect(inf.lister.list('ns').map((o) => o.metadata.name)).toEqual(['a']);
    ctl.abort();
    await run;
  });
});
