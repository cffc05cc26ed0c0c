import { describe, expect, it } from 'vitest';
import { aggregatedDiscovery, aggregatedDiscoveryMediaType, apiResourceList, discoveredGroups, negotiateAggregatedDiscovery } from './discovery.js';
import { SERVED_SUBRESOURCES } from '../server.js';

describe('negotiateAggregatedDiscovery', () => {
  const v2 = aggregatedDiscoveryMediaType('v2');
  const v2beta1 = aggregatedDiscoveryMediaType('v2beta1');

  it('picks the first JSON range: an aggregated version served, else the legacy documents', () => {
    expect(negotiateAggregatedDiscovery(`${v2},${v2beta1},application/json`)).toBe('v2');
    expect(negotiateAggregatedDiscovery(`${v2beta1},application/json`)).toBe('v2beta1');
    expect(negotiateAggregatedDiscovery(`application/vnd.kubernetes.protobuf;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,${v2}`)).toBe('v2');
    // Parameters in another order and with spaces are the same media type.
    expect(negotiateAggregatedDiscovery('application/json; as=APIGroupDiscoveryList; v=v2; g=apidiscovery.k8s.io')).toBe('v2');
    expect(negotiateAggregatedDiscovery(`application/json,${v2}`)).toBeUndefined();
    expect(negotiateAggregatedDiscovery('application/json;g=apidiscovery.k8s.io;v=v3;as=APIGroupDiscoveryList,*/*')).toBeUndefined();
    expect(negotiateAggregatedDiscovery('application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscovery')).toBeUndefined();
    expect(negotiateAggregatedDiscovery(undefined)).toBeUndefined();
    expect(negotiateAggregatedDiscovery('')).toBeUndefined();
  });
});

describe('aggregatedDiscovery', () => {
  it('puts subresources under their resource, with their own response kinds', () => {
    const list = {
      resources: [
        { name: 'deployments', singularName: 'deployment', namespaced: true, kind: 'Deployment', verbs: ['get', 'list'], shortNames: ['deploy'], categories: ['all'] },
        { name: 'deployments/scale', singularName: '', namespaced: true, kind: 'Scale', verbs: ['get', 'patch', 'update'], group: 'autoscaling', version: 'v1' },
        { name: 'deployments/status', singularName: '', namespaced: true, kind: 'Deployment', verbs: ['get', 'patch', 'update'] },
        { name: 'controllerrevisions', singularName: 'controllerrevision', namespaced: true, kind: 'ControllerRevision', verbs: ['get'] },
      ],
    };
    expect(aggregatedDiscovery([{ group: 'apps', versions: [{ version: 'v1', list }] }], 'v2')).toEqual({
      kind: 'APIGroupDiscoveryList',
      apiVersion: 'apidiscovery.k8s.io/v2',
      metadata: {},
      items: [
        {
          metadata: { name: 'apps' },
          versions: [
            {
              version: 'v1',
              freshness: 'Current',
              resources: [
                {
                  resource: 'deployments',
                  responseKind: { group: 'apps', version: 'v1', kind: 'Deployment' },
                  scope: 'Namespaced',
                  singularResource: 'deployment',
                  verbs: ['get', 'list'],
                  shortNames: ['deploy'],
                  categories: ['all'],
                  subresources: [
                    { subresource: 'scale', responseKind: { group: 'autoscaling', version: 'v1', kind: 'Scale' }, verbs: ['get', 'patch', 'update'] },
                    { subresource: 'status', responseKind: { group: 'apps', version: 'v1', kind: 'Deployment' }, verbs: ['get', 'patch', 'update'] },
                  ],
                },
                { resource: 'controllerrevisions', responseKind: { group: 'apps', version: 'v1', kind: 'ControllerRevision' }, scope: 'Namespaced', singularResource: 'controllerrevision', verbs: ['get'] },
              ],
            },
          ],
        },
      ],
    });
  });

  it('covers the core group and every served group version, with the extra groups last', () => {
    const extra = [{ name: 'example.test', versions: ['v1'], list: () => ({ resources: [{ name: 'widgets', namespaced: false, kind: 'Widget', verbs: ['create'] }] }) }];
    const { core, apis } = discoveredGroups(SERVED_SUBRESOURCES, extra);
    expect(core.map((g) => g.group)).toEqual(['']);
    expect(core[0]!.versions[0]!.list).toEqual(apiResourceList('', 'v1', SERVED_SUBRESOURCES));
    expect(apis.at(-1)).toEqual({ group: 'example.test', versions: [{ version: 'v1', list: extra[0]!.list() }] });
    const pods = (aggregatedDiscovery(core, 'v2beta1')['items'] as { versions: { resources: { resource: string; subresources?: { subresource: string }[] }[] }[] }[])[0]!.versions[0]!.resources.find((r) => r.resource === 'pods');
    expect(pods?.subresources?.map((s) => s.subresource)).toEqual(expect.arrayContaining(['status', 'binding', 'eviction', 'ephemeralcontainers']));
  });
});
