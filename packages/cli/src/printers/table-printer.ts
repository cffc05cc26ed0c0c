/**
 * Prints a server-side `meta.k8s.io/v1 Table` like `kubectl get`: upper-case headers, priority-0
 * columns (all with `-o wide`), an optional NAMESPACE column, `kind/name` names when several types
 * are printed, `--show-labels` and `-L` columns.
 */

/** A column of a server-side Table. */
export interface TableColumn {
  name: string;
  type: string;
  format?: string;
  description?: string;
  priority?: number;
}

/** A row of a server-side Table; `object` is PartialObjectMetadata or the full object. */
export interface TableRow {
  cells: unknown[];
  object?: { metadata?: { name?: string; namespace?: string; labels?: Record<string, string> }; [k: string]: unknown };
}

/** The `Table` kind. */
export interface Table {
  kind: 'Table';
  apiVersion?: string;
  metadata?: { resourceVersion?: string; continue?: string };
  columnDefinitions: TableColumn[];
  rows: TableRow[];
}

/** How to turn a Table into lines. */
export interface TablePrintOptions {
  wide?: boolean;
  /** Add a NAMESPACE column first (from each row's object metadata). */
  withNamespace?: boolean;
  /** Prefix names with `kind/` (several resource types in one listing). */
  kindPrefix?: string;
  showLabels?: boolean;
  labelColumns?: string[];
  noHeaders?: boolean;
}

/** The header and rows, as strings, for formatColumns. */
export function tableToRows(table: Pick<Table, 'columnDefinitions' | 'rows'>, options: TablePrintOptions = {}): { header: string[]; rows: string[][] } {
  const cols = table.columnDefinitions.map((c, i) => ({ c, i })).filter(({ c }) => options.wide || (c.priority ?? 0) === 0);
  const header: string[] = [];
  if (options.withNamespace) header.push('NAMESPACE');
  for (const { c } of cols) header.push(c.name.toUpperCase());
  for (const l of options.labelColumns ?? []) header.push(labelColumnHeader(l));
  if (options.showLabels) header.push('LABELS');
  const nameIndex = table.columnDefinitions.findIndex((c) => c.format === 'name');
  const rows = table.rows.map((row) => {
    const out: string[] = [];
    const meta = row.object?.metadata ?? {};
    if (options.withNamespace) out.push(meta.namespace ?? '');
    for (const { i } of cols) {
      let cell = formatCell(row.cells[i]);
      if (i === nameIndex && options.kindPrefix) cell = `${options.kindPrefix}/${cell}`;
      out.push(cell);
    }
    for (const l of options.labelColumns ?? []) out.push(meta.labels?.[l] ?? '');
    if (options.showLabels) out.push(formatLabels(meta.labels));
    return out;
  });
  return { header, rows };
}

/** `-L app.kubernetes.io/name` prints the header `NAME` (the last path segment, upper-cased). */
function labelColumnHeader(label: string): string {
  const slash = label.lastIndexOf('/');
  return (slash < 0 ? label : label.slice(slash + 1)).toUpperCase();
}

/** `a=b,c=d`, `<none>` when empty — kubectl's label column. */
export function formatLabels(labels: Record<string, string> | undefined): string {
  const entries = Object.entries(labels ?? {}).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return entries.length === 0 ? '<none>' : entries.map(([k, v]) => `${k}=${v}`).join(',');
}

/** One cell as kubectl prints it (`%v`): strings as is, null as `<none>`, others JSON. */
export function formatCell(v: unknown): string {
  if (v === null || v === undefined) return '<none>';
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  return JSON.stringify(v);
}
