import { describe, expect, it } from 'vitest';
import { formatColumns } from './columns.js';
import { humanDuration } from './human-duration.js';
import { parseJsonPathTemplate, toJsonPath } from './jsonpath-template.js';
import { formatObjects, objectName, parseOutputFormat, toJson, toYaml } from './object-printer.js';
import { alignTabs } from './tab-writer.js';
import { tableToRows, type Table } from './table-printer.js';

const table: Table = {
  kind: 'Table',
  columnDefinitions: [
    { name: 'Name', type: 'string', format: 'name', priority: 0 },
    { name: 'Ready', type: 'string', priority: 0 },
    { name: 'IP', type: 'string', priority: 1 },
    { name: 'Nominated Node', type: 'string', priority: 1 },
  ],
  rows: [
    { cells: ['web-1', '1/1', '10.0.0.1', null], object: { metadata: { name: 'web-1', namespace: 'shop', labels: { b: '2', a: '1' } } } },
    { cells: ['db', '0/1', '10.0.0.22', null], object: { metadata: { name: 'db', namespace: 'data' } } },
  ],
};

describe('kubectl-style columns', () => {
  it('pads every column but the last by three spaces past the widest cell', () => {
    expect(formatColumns([['NAME', 'READY'], ['web-1', '1/1'], ['db', '0/1']])).toBe('NAME    READY\nweb-1   1/1\ndb      0/1\n');
  });

  it('prints priority-0 columns, or all with -o wide, with upper-case headers', () => {
    expect(tableToRows(table).header).toEqual(['NAME', 'READY']);
    const wide = tableToRows(table, { wide: true });
    expect(wide.header).toEqual(['NAME', 'READY', 'IP', 'NOMINATED NODE']);
    expect(wide.rows[0]).toEqual(['web-1', '1/1', '10.0.0.1', '<none>']);
  });

  it('adds NAMESPACE, kind prefixes, -L and --show-labels columns', () => {
    const r = tableToRows(table, { withNamespace: true, kindPrefix: 'pod', labelColumns: ['a'], showLabels: true });
    expect(r.header).toEqual(['NAMESPACE', 'NAME', 'READY', 'A', 'LABELS']);
    expect(r.rows[0]).toEqual(['shop', 'pod/web-1', '1/1', '1', 'a=1,b=2']);
    expect(r.rows[1]).toEqual(['data', 'pod/db', '0/1', '', '<none>']);
  });

  it('formats ages like kubectl', () => {
    expect(humanDuration(5_000)).toBe('5s');
    expect(humanDuration(119_000)).toBe('119s');
    expect(humanDuration(200_000)).toBe('3m20s');
    expect(humanDuration(45 * 60_000)).toBe('45m');
    expect(humanDuration(5 * 3600_000 + 7 * 60_000)).toBe('5h7m');
    expect(humanDuration(50 * 3600_000)).toBe('2d2h');
    expect(humanDuration(40 * 24 * 3600_000)).toBe('40d');
  });

  it('aligns describe output like Go tabwriter (blocks of consecutive cells)', () => {
    const out = alignTabs('Name:\tx\nNamespace:\tdefault\nContainers:\n  web:\n    Image:\tbusybox\n    Port:\t80/TCP\n');
    expect(out).toBe('Name:       x\nNamespace:  default\nContainers:\n  web:\n    Image:  busybox\n    Port:   80/TCP\n');
  });
});

describe('kubectl JSONPath templates', () => {
  const list = { kind: 'List', items: [{ metadata: { name: 'a', labels: { 'app.kubernetes.io/name': 'shop' } }, status: { conditions: [{ type: 'Ready', status: 'True' }] } }, { metadata: { name: 'b' }, status: { conditions: [{ type: 'Ready', status: 'False' }] } }] };

  it('joins several results with spaces', () => {
    expect(parseJsonPathTemplate('{.items[*].metadata.name}').execute(list)).toBe('a b');
  });

  it('runs range/end with literals, relative to the range item', () => {
    expect(parseJsonPathTemplate('{range .items[*]}{.metadata.name}{"\\n"}{end}').execute(list)).toBe('a\nb\n');
  });

  it('supports filters, escaped dots, plain text and missing keys', () => {
    expect(parseJsonPathTemplate('{.items[?(@.metadata.name=="b")].status.conditions[0].status}').execute(list)).toBe('False');
    expect(parseJsonPathTemplate('{.items[0].metadata.labels.app\\.kubernetes\\.io/name}').execute(list)).toBe('shop');
    expect(parseJsonPathTemplate('name={.items[0].metadata.name}').execute(list)).toBe('name=a');
    expect(parseJsonPathTemplate('{.nope.deeper}').execute(list)).toBe('');
  });

  it('converts paths to bracket form', () => {
    expect(toJsonPath('.a.b[0]')).toBe('@["a"]["b"][0]');
    expect(toJsonPath('$.x[*]')).toBe('$["x"][*]');
  });

  it('rejects a range without end', () => {
    expect(() => parseJsonPathTemplate('{range .items[*]}{.x}')).toThrow(/range/);
  });
});

describe('object output', () => {
  const cm = { kind: 'ConfigMap', apiVersion: 'v1', metadata: { name: 'x' }, data: { a: 'yes', list: '1' } };

  it('prints YAML and JSON with sorted keys like kubectl', () => {
    expect(toYaml(cm)).toBe('apiVersion: v1\ndata:\n  a: "yes"\n  list: "1"\nkind: ConfigMap\nmetadata:\n  name: x\n');
    expect(toJson({ b: 1, a: [1] })).toBe('{\n    "a": [\n        1\n    ],\n    "b": 1\n}\n');
  });

  it('wraps several objects in a List and names them kind.group/name', () => {
    expect(formatObjects([cm, cm], { kind: 'json' }, false)).toContain('"kind": "List"');
    expect(objectName({ apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'web' } })).toBe('deployment.apps/web');
    expect(formatObjects([cm], { kind: 'name' }, true)).toBe('configmap/x\n');
  });

  it('parses -o values', () => {
    expect(parseOutputFormat('wide')).toEqual({ kind: 'table', wide: true });
    expect(parseOutputFormat('jsonpath={.a}')).toEqual({ kind: 'jsonpath', template: '{.a}' });
    expect(parseOutputFormat('custom-columns=N:.metadata.name')).toEqual({ kind: 'custom-columns', columns: [{ header: 'N', path: '.metadata.name' }] });
    expect(() => parseOutputFormat('xml')).toThrow(/unable to match a printer/);
    expect(formatObjects([cm], parseOutputFormat('custom-columns=NAME:.metadata.name,MISSING:.x'), false)).toBe('NAME   MISSING\nx      <none>\n');
  });
});
