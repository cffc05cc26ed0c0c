/**
 * Label selectors: the string syntax of `?labelSelector=` and the `LabelSelector` object
 * (matchLabels/matchExpressions) of workloads, both compiled to one matcher.
 */
import { badRequest } from './api-error.js';

/** A set-based requirement on one label key. */
export interface LabelRequirement {
  key: string;
  operator: 'In' | 'NotIn' | 'Exists' | 'DoesNotExist' | 'Equals' | 'NotEquals' | 'Gt' | 'Lt';
  values: string[];
}

/** The `metav1.LabelSelector` object form. */
export interface LabelSelectorObject {
  matchLabels?: Record<string, string>;
  matchExpressions?: { key: string; operator: string; values?: string[] }[];
}

/** A compiled selector: an AND of requirements. An empty selector matches everything. */
export class LabelSelector {
  readonly requirements: readonly LabelRequirement[];

  constructor(requirements: LabelRequirement[]) {
    this.requirements = requirements;
  }

  /** True when there are no requirements (matches every object). */
  isEmpty(): boolean {
    return this.requirements.length === 0;
  }

  /** True when the labels satisfy every requirement. */
  matches(labels: Readonly<Record<string, string>> | undefined): boolean {
    for (const r of this.requirements) {
      if (!matchesRequirement(r, labels)) return false;
    }
    return true;
  }

  /** The value every matching object must have for `key`, when a requirement pins it (used for indexing). */
  exactValue(key: string): string | undefined {
    for (const r of this.requirements) {
      if (r.key !== key) continue;
      if (r.operator === 'Equals' || (r.operator === 'In' && r.values.length === 1)) return r.values[0];
    }
    return undefined;
  }

  /** The canonical string form (`a=b,c in (d,e)`). */
  toString(): string {
    return this.requirements.map(requirementToString).join(',');
  }

  /** A selector that matches everything. */
  static everything(): LabelSelector {
    return new LabelSelector([]);
  }
}

/** A selector that matches nothing (a nil LabelSelector object in a workload). */
export const NOTHING: LabelSelector = new LabelSelector([{ key: '', operator: 'In', values: [] }]);

function matchesRequirement(r: LabelRequirement, labels: Readonly<Record<string, string>> | undefined): boolean {
  const has = labels !== undefined && Object.prototype.hasOwnProperty.call(labels, r.key);
  const value = has ? labels![r.key] : undefined;
  switch (r.operator) {
    case 'Equals':
    case 'In':
      return has && r.values.includes(value!);
    case 'NotEquals':
    case 'NotIn':
      return !has || !r.values.includes(value!);
    case 'Exists':
      return has;
    case 'DoesNotExist':
      return !has;
    case 'Gt':
    case 'Lt': {
      if (!has) return false;
      const n = Number(value);
      const bound = Number(r.values[0]);
      if (!Number.isInteger(n) || !Number.isInteger(bound)) return false;
      return r.operator === 'Gt' ? n > bound : n < bound;
    }
  }
}

function requirementToString(r: LabelRequirement): string {
  switch (r.operator) {
    case 'Equals': return `${r.key}=${r.values[0]}`;
    case 'NotEquals': return `${r.key}!=${r.values[0]}`;
    case 'In': return `${r.key} in (${r.values.join(',')})`;
    case 'NotIn': return `${r.key} notin (${r.values.join(',')})`;
    case 'Exists': return r.key;
    case 'DoesNotExist': return `!${r.key}`;
    case 'Gt': return `${r.key}>${r.values[0]}`;
    case 'Lt': return `${r.key}<${r.values[0]}`;
  }
}

const QUALIFIED_NAME = /^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/;
const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;

/** True when `key` is a valid label key (optional DNS-subdomain prefix, name <= 63 chars). */
export function isValidLabelKey(key: string): boolean {
  if (!QUALIFIED_NAME.test(key)) return false;
  const slash = key.indexOf('/');
  const name = slash < 0 ? key : key.slice(slash + 1);
  if (name.length > 63) return false;
  if (slash >= 0 && slash > 253) return false;
  return true;
}

/** True when `value` is a valid label value (<= 63 chars, alphanumerics with -_. inside). */
export function isValidLabelValue(value: string): boolean {
  return value.length <= 63 && LABEL_VALUE.test(value);
}

class Lexer {
  private pos = 0;
  lastKeyword = '';
  constructor(private readonly s: string) {}

  skipSpace(): void {
    while (this.pos < this.s.length && (this.s[this.pos] === ' ' || this.s[this.pos] === '\t')) this.pos++;
  }

  peek(): string {
    this.skipSpace();
    return this.s.slice(this.pos);
  }

  atEnd(): boolean {
    this.skipSpace();
    return this.pos >= this.s.length;
  }

  /** Reads an identifier or value: everything up to a delimiter. */
  word(): string {
    this.skipSpace();
    const start = this.pos;
    while (this.pos < this.s.length && !' \t,()=!<>'.includes(this.s[this.pos]!)) this.pos++;
    return this.s.slice(start, this.pos);
  }

  take(token: string): boolean {
    this.skipSpace();
    if (this.s.startsWith(token, this.pos)) {
      this.pos += token.length;
      return true;
    }
    return false;
  }

  /** Takes a keyword only when followed by a delimiter. */
  takeKeyword(kw: string): boolean {
    this.skipSpace();
    if (!this.s.startsWith(kw, this.pos)) return false;
    const next = this.s[this.pos + kw.length];
    if (next !== undefined && next !== ' ' && next !== '\t' && next !== '(') return false;
    this.pos += kw.length;
    this.lastKeyword = kw;
    return true;
  }
}

function fail(why: string): never {
  throw badRequest(`unable to parse requirement: ${why}`, [{ reason: 'FieldValueInvalid', message: why, field: 'labelSelector' }]);
}

function checkKey(key: string): void {
  if (!isValidLabelKey(key)) fail(`invalid label key "${key}": name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character`);
}

function checkValue(value: string): void {
  if (!isValidLabelValue(value)) fail(`invalid label value: "${value}": a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character`);
}

/**
 * Parses the string syntax: `k=v`, `k==v`, `k!=v`, `k in (a,b)`, `k notin (a,b)`, `k`, `!k`,
 * `k>1`, `k<1`; comma is AND. Throws a 400 ApiError on bad syntax.
 */
export function parseLabelSelector(selector: string | undefined | null): LabelSelector {
  if (selector === undefined || selector === null || selector.trim() === '') return LabelSelector.everything();
  const lx = new Lexer(selector);
  const reqs: LabelRequirement[] = [];
  for (;;) {
    if (lx.take('!')) {
      const key = lx.word();
      checkKey(key);
      reqs.push({ key, operator: 'DoesNotExist', values: [] });
    } else {
      const key = lx.word();
      if (key === '') fail(`found '${lx.peek().slice(0, 1) || 'end of string'}', expected: identifier`);
      checkKey(key);
      if (lx.take('==') || lx.take('=')) {
        const v = lx.word();
        checkValue(v);
        reqs.push({ key, operator: 'Equals', values: [v] });
      } else if (lx.take('!=')) {
        const v = lx.word();
        checkValue(v);
        reqs.push({ key, operator: 'NotEquals', values: [v] });
      } else if (lx.take('>')) {
        const v = lx.word();
        if (!/^-?\d+$/.test(v)) fail(`for 'Gt', 'Lt' operators, the value must be an integer`);
        reqs.push({ key, operator: 'Gt', values: [v] });
      } else if (lx.take('<')) {
        const v = lx.word();
        if (!/^-?\d+$/.test(v)) fail(`for 'Gt', 'Lt' operators, the value must be an integer`);
        reqs.push({ key, operator: 'Lt', values: [v] });
      } else if (lx.takeKeyword('notin') || lx.takeKeyword('in')) {
        const op = lx.lastKeyword === 'notin' ? 'NotIn' : 'In';
        if (!lx.take('(')) fail(`found '${lx.peek().slice(0, 1) || 'end of string'}', expected: '('`);
        const values: string[] = [];
        if (!lx.take(')')) {
          for (;;) {
            const v = lx.word();
            checkValue(v);
            values.push(v);
            if (lx.take(')')) break;
            if (!lx.take(',')) fail(`found '${lx.peek().slice(0, 1) || 'end of string'}', expected: ',' or ')'`);
          }
        }
        if (op === 'In' && values.length === 0) fail(`for 'in', 'notin' operators, values set can't be empty`);
        reqs.push({ key, operator: op, values: [...new Set(values)].sort() });
      } else {
        reqs.push({ key, operator: 'Exists', values: [] });
      }
    }
    if (lx.atEnd()) break;
    if (!lx.take(',')) fail(`found '${lx.peek().slice(0, 1)}', expected: ',' or 'end of string'`);
  }
  return new LabelSelector(reqs);
}

/**
 * Compiles a `LabelSelector` object. `undefined`/`null` selects nothing (as for a workload without
 * a selector); `{}` selects everything. Throws a 400 ApiError on an unknown operator.
 */
export function labelSelectorFromObject(sel: LabelSelectorObject | undefined | null): LabelSelector {
  if (sel === undefined || sel === null) return NOTHING;
  const reqs: LabelRequirement[] = [];
  for (const [key, value] of Object.entries(sel.matchLabels ?? {})) reqs.push({ key, operator: 'Equals', values: [String(value)] });
  for (const e of sel.matchExpressions ?? []) {
    switch (e.operator) {
      case 'In':
      case 'NotIn':
        reqs.push({ key: e.key, operator: e.operator, values: [...(e.values ?? [])] });
        break;
      case 'Exists':
      case 'DoesNotExist':
        reqs.push({ key: e.key, operator: e.operator, values: [] });
        break;
      default:
        throw badRequest(`"${e.operator}" is not a valid label selector operator`);
    }
  }
  return new LabelSelector(reqs);
}

/** The string form of a `LabelSelector` object (`app=web,tier in (a,b)`), as in Scale.status.selector. */
export function formatLabelSelector(sel: LabelSelectorObject | undefined | null): string {
  if (!sel) return '';
  return labelSelectorFromObject(sel).toString();
}
