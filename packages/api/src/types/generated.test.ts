import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, expectTypeOf, it } from 'vitest';
import type { KubeObject } from '../meta.js';
import { DEFINITIONS } from '../schema/definitions.js';
import type { Container, Deployment, DiscoveryEndpointPort, EndpointPort, KindTypes, Pod, PodList, PodSpec } from './generated.js';
import { generateTypes, typeNames } from './type-generator.js';

const here = fileURLToPath(new URL('.', import.meta.url));
const srcRoot = join(here, '..');

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((f) => {
    const p = join(dir, f);
    if (statSync(p).isDirectory()) return sourceFiles(p);
    return p.endsWith('.ts') && !p.endsWith('.test.ts') ? [p] : [];
  });
}

describe('generated types', () => {
  it('are up to date with the schema definitions (regenerate: node packages/api/scripts/generate-types.mjs)', () => {
    expect(readFileSync(join(here, 'generated.ts'), 'utf8')).toBe(generateTypes(DEFINITIONS));
  });

  it('do not clash with names the package already exports', () => {
    const generated = new Set(typeNames(DEFINITIONS).values());
    const handWritten = new Set<string>();
    for (const file of sourceFiles(srcRoot)) {
      if (file.startsWith(here)) continue;
      for (const m of readFileSync(file, 'utf8').matchAll(/^export (?:declare )?(?:interface|type|class|function|const|enum|abstract class) ([A-Za-z0-9_]+)/gm)) handWritten.add(m[1]!);
    }
    const imported = ['ObjectMeta', 'ListMeta', 'OwnerReference', 'ManagedFieldsEntry', 'Condition', 'LabelSelectorObject', 'Status', 'StatusDetails', 'StatusCause'];
    const clashes = [...generated].filter((n) => handWritten.has(n) && !imported.includes(n));
    expect(clashes).toEqual([]);
  });

  it('name every kind, resolve collisions with a group prefix and keep kinds usable as KubeObject', () => {
    const names = typeNames(DEFINITIONS);
    expect(names.get('io.k8s.api.core.v1.EndpointPort')).toBe('EndpointPort');
    expect(names.get('io.k8s.api.discovery.v1.EndpointPort')).toBe('DiscoveryEndpointPort');
    expect(new Set(names.values()).size).toBe(names.size);
    expectTypeOf<Pod>().toMatchTypeOf<KubeObject>();
    expectTypeOf<Deployment>().toMatchTypeOf<KubeObject>();
    expectTypeOf<Pod['spec']>().toEqualTypeOf<PodSpec | undefined>();
    expectTypeOf<PodSpec['containers']>().toEqualTypeOf<Container[]>();
    expectTypeOf<PodSpec['restartPolicy']>().toEqualTypeOf<'Always' | 'OnFailure' | 'Never' | undefined>();
    expectTypeOf<Container['name']>().toEqualTypeOf<string>();
    expectTypeOf<PodList['items']>().toEqualTypeOf<Pod[]>();
    expectTypeOf<KindTypes['apps/v1/Deployment']>().toEqualTypeOf<Deployment>();
    expectTypeOf<EndpointPort['port']>().toEqualTypeOf<number>();
    expectTypeOf<DiscoveryEndpointPort['port']>().toEqualTypeOf<number | undefined>();
  });
});
