/**
 * kubectl's JSONPath templates (`{.items[*].metadata.name}`, `{range .items[*]}{.x}{"\n"}{end}`,
 * filters `[?(@.type=="Ready")]`, escaped dots `labels.app\.kubernetes\.io/name`), evaluated with
 * jsonpath-plus. Missing keys print nothing (kubectl's --allow-missing-template-keys default).
 */
import { JSONPath } from 'jsonpath-plus';

type Node =
  | { kind: 'text'; text: string }
  | { kind: 'expr'; path: string }
  | { kind: 'range'; path: string; body: Node[] };

/** A parsed template, ready to execute against many objects. */
export interface JsonPathTemplate {
  execute(data: unknown): string;
}

/** Parses a kubectl JSONPath template; throws on unbalanced braces or `range` without `end`. */
export function parseJsonPathTemplate(template: string): JsonPathTemplate {
  const actions = tokenize(template);
  const stack: Node[][] = [[]];
  const ranges: { path: string; body: Node[] }[] = [];
  for (const a of actions) {
    const top = stack[stack.length - 1]!;
    if (a.kind === 'text') {
      top.push({ kind: 'text', text: a.text });
      continue;
    }
    const inner = a.text.trim();
    if (inner === 'end') {
      const r = ranges.pop();
      if (!r) throw new Error(`error parsing jsonpath ${template}: not in range, nothing to end`);
      stack.pop();
      stack[stack.length - 1]!.push({ kind: 'range', path: r.path, body: r.body });
    } else if (inner.startsWith('range ')) {
      const r = { path: toJsonPath(inner.slice(6).trim()), body: [] as Node[] };
      ranges.push(r);
      stack.push(r.body);
    } else if (/^".*"$/s.test(inner) || /^'.*'$/s.test(inner)) {
      top.push({ kind: 'text', text: unquote(inner) });
    } else if (inner !== '') {
      // `{.a}{.b}` or `{.a,.b}`: comma-separated expressions print each result.
      for (const part of splitTopLevel(inner, ',')) top.push({ kind: 'expr', path: toJsonPath(part.trim()) });
    }
  }
  if (ranges.length > 0) throw new Error(`error parsing jsonpath ${template}: unclosed action (range without end)`);
  const root = stack[0]!;
  return { execute: (data) => run(root, data, data) };
}

function run(nodes: Node[], root: unknown, current: unknown): string {
  let out = '';
  for (const n of nodes) {
    if (n.kind === 'text') out += n.text;
    else if (n.kind === 'expr') out += evaluate(n.path, root, current).map(formatValue).join(' ');
    else for (const item of evaluate(n.path, root, current)) out += run(n.body, root, item);
  }
  return out;
}

/** Results of a path; `@` paths start at the range item, `$` ones at the root. */
function evaluate(path: string, root: unknown, current: unknown): unknown[] {
  const relative = path.startsWith('@');
  const json = (relative ? current : root) as object;
  if (json === null || json === undefined || typeof json !== 'object') return [];
  const p = relative ? `$${path.slice(1)}` : path;
  if (p === '$') return [json];
  const result = JSONPath({ path: p, json, wrap: true, eval: 'safe' }) as unknown[] | undefined;
  return result ?? [];
}

function formatValue(v: unknown): string {
  if (v === null || v === undefined) return '';
  if (typeof v === 'object') return JSON.stringify(v);
  return String(v);
}

function unquote(s: string): string {
  const body = s.slice(1, -1);
  return body.replace(/\\(.)/g, (_, c: string) => ({ n: '\n', t: '\t', r: '\r', '"': '"', "'": "'", '\\': '\\' })[c] ?? c);
}

/** Converts `.a.b[0]`, `@.a`, `$.a`, `a.b` to jsonpath-plus bracket form with kubectl's escaping rules. */
export function toJsonPath(expr: string): string {
  let e = expr.trim();
  // Like kubectl, `.x` is relative to the current range item (the root outside ranges); `$` is the root.
  let prefix = '@';
  if (e.startsWith('@')) {
    e = e.slice(1);
  } else if (e.startsWith('$')) {
    prefix = '$';
    e = e.slice(1);
  }
  let out = prefix;
  let i = 0;
  while (i < e.length) {
    const c = e[i]!;
    if (c === '[') {
      const end = matchBracket(e, i);
      out += rewriteBracket(e.slice(i, end + 1));
      i = end + 1;
    } else if (c === '.') {
      if (e[i + 1] === '.') {
        out += '..';
        i += 2;
        const { name, next } = readName(e, i);
        if (name) out += name === '*' ? '*' : `[${JSON.stringify(name)}]`;
        i = next;
        continue;
      }
      i++;
      const { name, next } = readName(e, i);
      if (name === '*') out += '[*]';
      else if (name !== '') out += `[${JSON.stringify(name)}]`;
      i = next;
    } else {
      const { name, next } = readName(e, i);
      out += name === '*' ? '[*]' : `[${JSON.stringify(name)}]`;
      i = next === i ? i + 1 : next;
    }
  }
  return out;
}

function readName(e: string, start: number): { name: string; next: number } {
  let name = '';
  let i = start;
  while (i < e.length) {
    const c = e[i]!;
    if (c === '\\' && i + 1 < e.length) {
      name += e[i + 1];
      i += 2;
      continue;
    }
    if (c === '.' || c === '[') break;
    name += c;
    i++;
  }
  return { name, next: i };
}

function matchBracket(e: string, start: number): number {
  let depth = 0;
  let quote: string | undefined;
  for (let i = start; i < e.length; i++) {
    const c = e[i]!;
    if (quote) {
      if (c === quote) quote = undefined;
      continue;
    }
    if (c === '"' || c === "'") quote = c;
    else if (c === '[') depth++;
    else if (c === ']' && --depth === 0) return i;
  }
  throw new Error(`unterminated [ in jsonpath ${e}`);
}

/** `[0]`, `[*]`, `[1:3]`, `['a']` pass through; filters get jsonpath-plus's `@` semantics; `[-1]` -> `[-1:]`. */
function rewriteBracket(b: string): string {
  const inner = b.slice(1, -1).trim();
  if (/^-\d+$/.test(inner)) return `[${inner}:]`;
  if (inner.startsWith('?')) {
    // kubectl filters compare with `==`; JavaScript needs `===`-free equality on strings, which `==` gives.
    return `[${inner.replace(/@\.([A-Za-z0-9_\-/\\.]+)/g, (_, p: string) => `@${toJsonPath(`.${p}`).slice(1).replace(/\["([^"]+)"\]/g, (_m, k: string) => (/^[A-Za-z_$][\w$]*$/.test(k) ? `.${k}` : `[${JSON.stringify(k)}]`))}`)}]`;
  }
  return b;
}

function splitTopLevel(s: string, sep: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let quote: string | undefined;
  let cur = '';
  for (const c of s) {
    if (quote) {
      if (c === quote) quote = undefined;
    } else if (c === '"' || c === "'") quote = c;
    else if (c === '[' || c === '(') depth++;
    else if (c === ']' || c === ')') depth--;
    else if (c === sep && depth === 0) {
      parts.push(cur);
      cur = '';
      continue;
    }
    cur += c;
  }
  parts.push(cur);
  return parts.filter((p) => p.trim() !== '');
}

function tokenize(template: string): { kind: 'text' | 'action'; text: string }[] {
  const out: { kind: 'text' | 'action'; text: string }[] = [];
  let i = 0;
  let text = '';
  while (i < template.length) {
    const c = template[i]!;
    if (c !== '{') {
      text += c;
      i++;
      continue;
    }
    if (text) out.push({ kind: 'text', text });
    text = '';
    let depth = 0;
    let quote: string | undefined;
    let j = i;
    for (; j < template.length; j++) {
      const d = template[j]!;
      if (quote) {
        if (d === '\\') j++;
        else if (d === quote) quote = undefined;
        continue;
      }
      if (d === '"' || d === "'") quote = d;
      else if (d === '{') depth++;
      else if (d === '}' && --depth === 0) break;
    }
    if (j >= template.length) throw new Error(`error parsing jsonpath ${template}: unclosed action`);
    out.push({ kind: 'action', text: template.slice(i + 1, j) });
    i = j + 1;
  }
  if (text) out.push({ kind: 'text', text });
  return out;
}
