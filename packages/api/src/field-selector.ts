/**
 * Field selectors (`?fieldSelector=metadata.name=x,spec.nodeName!=`): `=`, `==`, `!=`, comma = AND.
 * Which fields a kind supports is decided by the server (see `selectableFields` of a strategy).
 */
import { badRequest } from './api-error.js';

/** One `field op value` term. */
export interface FieldRequirement {
  field: string;
  operator: 'Equals' | 'NotEquals';
  value: string;
}

/** A compiled field selector: an AND of requirements. */
export class FieldSelector {
  readonly requirements: readonly FieldRequirement[];

  constructor(requirements: FieldRequirement[]) {
    this.requirements = requirements;
  }

  /** True when there are no requirements. */
  isEmpty(): boolean {
    return this.requirements.length === 0;
  }

  /** True when the object's selectable fields satisfy every requirement (a missing field reads as ""). */
  matches(fields: Readonly<Record<string, string>>): boolean {
    for (const r of this.requirements) {
      const v = fields[r.field] ?? '';
      if (r.operator === 'Equals' ? v !== r.value : v === r.value) return false;
    }
    return true;
  }

  /** The value the field must equal, when one requirement pins it (used for indexed watches). */
  exactValue(field: string): string | undefined {
    for (const r of this.requirements) if (r.field === field && r.operator === 'Equals') return r.value;
    return undefined;
  }

  /** The canonical string form. */
  toString(): string {
    return this.requirements.map((r) => `${r.field}${r.operator === 'Equals' ? '=' : '!='}${escapeValue(r.value)}`).join(',');
  }

  /** A selector that matches everything. */
  static everything(): FieldSelector {
    return new FieldSelector([]);
  }
}

function escapeValue(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/,/g, '\\,').replace(/=/g, '\\=');
}

/** Splits on unescaped commas, keeping backslash escapes for the next step. */
function splitTerms(s: string): string[] {
  const out: string[] = [];
  let cur = '';
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!;
    if (c === '\\' && i + 1 < s.length) {
      cur += c + s[i + 1];
      i++;
    } else if (c === ',') {
      out.push(cur);
      cur = '';
    } else {
      cur += c;
    }
  }
  out.push(cur);
  return out;
}

function unescape(v: string): string {
  return v.replace(/\\(.)/g, '$1');
}

/**
 * Parses a field selector. Throws 400 on bad syntax. When `known` is given, a field outside it gets
 * 400 `"x" is not a known field selector: only "a", "b"` like the Kubernetes API server.
 */
export function parseFieldSelector(selector: string | undefined | null, known?: ReadonlySet<string>): FieldSelector {
  if (selector === undefined || selector === null || selector.trim() === '') return FieldSelector.everything();
  const reqs: FieldRequirement[] = [];
  for (const rawTerm of splitTerms(selector)) {
    const term = rawTerm.trim();
    if (term === '') continue;
    let op: FieldRequirement['operator'] | undefined;
    let idx = -1;
    let len = 0;
    for (let i = 0; i < term.length; i++) {
      if (term[i] === '\\') {
        i++;
        continue;
      }
      if (term.startsWith('!=', i)) { op = 'NotEquals'; idx = i; len = 2; break; }
      if (term.startsWith('==', i)) { op = 'Equals'; idx = i; len = 2; break; }
      if (term[i] === '=') { op = 'Equals'; idx = i; len = 1; break; }
    }
    if (op === undefined) throw badRequest(`invalid selector: '${selector}'; can't understand '${term}'`);
    const field = term.slice(0, idx).trim();
    const value = unescape(term.slice(idx + len).trim());
    if (known && !known.has(field)) {
      throw badRequest(`"${field}" is not a known field selector: only ${[...known].map((k) => `"${k}"`).join(', ')}`);
    }
    reqs.push({ field, operator: op, value });
  }
  return new FieldSelector(reqs);
}
