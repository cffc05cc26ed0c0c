import { FakeClient } from '@flotilla/client/testing';
import { describe, expect, it } from 'vitest';
import { CONTROLLER_REVISIONS, hashRevisionData, revisionData, syncRevisions, templateFromRevision, truncateHistory, type ControllerRevision, type RevisionOwner } from './history.js';
import { controllerRef } from './pod-utils.js';

const owner = { apiVersion: 'apps/v1', kind: 'StatefulSet', metadata: { name: 'web', namespace: 'default', uid: 'owner-uid' } };
const ref = controllerRef(owner, 'apps/v1', 'StatefulSet');
const template = (image: string) => ({ metadata: { labels: { app: 'web' } }, spec: { containers: [{ name: 'c', image }] } });

function ownerOf(image: string, extra: Partial<RevisionOwner> = {}): RevisionOwner {
  return { owner, ref, selector: { matchLabels: { app: 'web' } }, template: template(image), collisionCount: 0, ...extra };
}

const revisions = (client: FakeClient) => client.all<ControllerRevision>(CONTROLLER_REVISIONS, 'default');

describe('history', () => {
  it('round-trips a template through revision data', () => {
    expect(templateFromRevision({ data: revisionData(template('a')) })).toEqual(template('a'));
  });

  it('creates a first revision, reuses it while the template is unchanged, and adds a newer one on change', async () => {
    const client = new FakeClient();
    const h1 = await syncRevisions(client, ownerOf('a'), []);
    expect(h1.update.revision).toBe(1);
    expect(h1.update.metadata.name).toBe(`web-${hashRevisionData(revisionData(template('a')))}`);
    expect(h1.update.metadata.labels).toEqual({ app: 'web', 'controller-revision-hash': h1.update.metadata.name!.slice(4) });
    expect(h1.current).toBe(h1.update);

    const again = await syncRevisions(client, ownerOf('a', { currentName: h1.update.metadata.name! }), revisions(client));
    expect(again.update.metadata.name).toBe(h1.update.metadata.name);
    expect(revisions(client)).toHaveLength(1);

    const h2 = await syncRevisions(client, ownerOf('b', { currentName: h1.update.metadata.name! }), revisions(client));
    expect(h2.update.revision).toBe(2);
    expect(h2.current.metadata.name).toBe(h1.update.metadata.name);
    expect(h2.revisions.map((r) => r.revision)).toEqual([1, 2]);
  });

  it('rolls back by re-numbering the equal older revision', async () => {
    const client = new FakeClient();
    const h1 = await syncRevisions(client, ownerOf('a'), []);
    await syncRevisions(client, ownerOf('b'), revisions(client));
    const back = await syncRevisions(client, ownerOf('a'), revisions(client));
    expect(back.update.metadata.name).toBe(h1.update.metadata.name);
    expect(back.update.revision).toBe(3);
    expect(revisions(client)).toHaveLength(2);
  });

  it('bumps the collision count when the name is taken by other data', async () => {
    const data = revisionData(template('a'));
    const clash = { apiVersion: 'apps/v1', kind: 'ControllerRevision', metadata: { name: `web-${hashRevisionData(data)}`, namespace: 'default' }, data: { other: true }, revision: 1 };
    const client = new FakeClient([{ resource: CONTROLLER_REVISIONS, objects: [clash as never] }]);
    const h = await syncRevisions(client, ownerOf('a'), []);
    expect(h.collisionCount).toBe(1);
    expect(h.update.metadata.name).toBe(`web-${hashRevisionData(data, 1)}`);
  });

  it('truncates the oldest revisions that are not live', async () => {
    const client = new FakeClient();
    for (const image of ['a', 'b', 'c', 'd']) await syncRevisions(client, ownerOf(image), revisions(client));
    const all = revisions(client);
    const byRev = (n: number) => all.find((r) => r.revision === n)!.metadata.name!;
    await truncateHistory(client, all, new Set([byRev(1), byRev(4)]), 1);
    expect(revisions(client).map((r) => r.revision).sort()).toEqual([1, 3, 4]);
  });
});
