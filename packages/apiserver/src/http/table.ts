/**
 * `meta.k8s.io/v1` Table and PartialObjectMetadata renderings of objects, which `kubectl get` asks for.
 */
import type { KubeObject, ListMeta } from '@flotilla/api';
import type { Strategy } from '../registry/strategy.js';

/** `?includeObject=` of a Table request. */
export type IncludeObject = 'None' | 'Metadata' | 'Object';

const NAME_COLUMN = {
  name: 'Name',
  type: 'string',
  format: 'name',
  description: 'Name must be unique within a namespace. Is required when creating resources, although some resources may allow a client to request the generation of an appropriate name automatically. Name is primarily intended for creation idempotence and configuration definition. Cannot be updated.',
  priority: 0,
};

/** The column definitions of a kind's table. */
export function columnDefinitions(strategy: Strategy): Record<string, unknown>[] {
  return [NAME_COLUMN, ...strategy.table.columns.map((c) => ({ name: c.name, type: c.type, format: c.format ?? '', description: c.description ?? '', priority: c.priority ?? 0 }))];
}

/** PartialObjectMetadata of an object. */
export function partialObject(obj: KubeObject): Record<string, unknown> {
  return { kind: 'PartialObjectMetadata', apiVersion: 'meta.k8s.io/v1', metadata: obj.metadata };
}

/** One table row. */
export function tableRow(strategy: Strategy, obj: KubeObject, includeObject: IncludeObject, now: Date): Record<string, unknown> {
  const row: Record<string, unknown> = { cells: [obj.metadata.name ?? '', ...strategy.table.cells(obj, now)] };
  if (includeObject === 'Object') row['object'] = obj;
  else if (includeObject === 'Metadata') row['object'] = partialObject(obj);
  return row;
}

/** A Table of objects. Column definitions are omitted when `withColumns` is false (watch events after the first). */
export function renderTable(strategy: Strategy, objects: readonly KubeObject[], listMeta: ListMeta, includeObject: IncludeObject, now: Date, withColumns = true): Record<string, unknown> {
  return {
    kind: 'Table',
    apiVersion: 'meta.k8s.io/v1',
    metadata: listMeta,
    columnDefinitions: withColumns ? columnDefinitions(strategy) : null,
    rows: objects.map((o) => tableRow(strategy, o, includeObject, now)),
  };
}

/** Parses `?includeObject=` (default Metadata). */
export function includeObjectOf(v: string | undefined): IncludeObject {
  return v === 'None' || v === 'Object' ? v : 'Metadata';
}
