/**
 * RFC 3339 timestamps parsed the way Go's `time.Parse(time.RFC3339, s)` does, with Go's error
 * wording (`parsing time "x" as "2006-01-02T15:04:05Z07:00": cannot parse "x" as "2006"`), so the
 * decoder reports bad timestamps as Kubernetes does.
 */

import { formatIsoTime } from '../meta.js';

const LAYOUT = '2006-01-02T15:04:05Z07:00';

/** A parsed timestamp: milliseconds since the epoch and the fractional-second digits as written. */
export interface ParsedTime {
  ms: number;
  fraction: string;
}

const quote = (s: string): string => JSON.stringify(s);

function daysIn(month: number, year: number): number {
  return new Date(Date.UTC(year, month, 0)).getUTCDate();
}

/**
 * Parses an RFC 3339 timestamp (fractional seconds of any length accepted, offset `Z` or
 * `±hh:mm`). Returns the parsed time, or Go's error message for the input.
 */
export function parseRfc3339(value: string): ParsedTime | string {
  let i = 0;
  const cannot = (elem: string): string => `parsing time ${quote(value)} as ${quote(LAYOUT)}: cannot parse ${quote(value.slice(i))} as ${quote(elem)}`;
  const num = (n: number): number | undefined => {
    for (let j = 0; j < n; j++) {
      const ch = value.charCodeAt(i + j);
      if (!(ch >= 48 && ch <= 57)) return undefined;
    }
    const x = Number(value.slice(i, i + n));
    i += n;
    return x;
  };
  const lit = (s: string): boolean => {
    if (value.startsWith(s, i)) {
      i += s.length;
      return true;
    }
    return false;
  };
  const year = num(4);
  if (year === undefined) return cannot('2006');
  if (!lit('-')) return cannot('-');
  const month = num(2);
  if (month === undefined) return cannot('01');
  if (month < 1 || month > 12) return `parsing time ${quote(value)}: month out of range`;
  if (!lit('-')) return cannot('-');
  const day = num(2);
  if (day === undefined) return cannot('02');
  if (!lit('T')) return cannot('T');
  const hour = num(2);
  if (hour === undefined) return cannot('15');
  if (hour > 23) return `parsing time ${quote(value)}: hour out of range`;
  if (!lit(':')) return cannot(':');
  const minute = num(2);
  if (minute === undefined) return cannot('04');
  if (minute > 59) return `parsing time ${quote(value)}: minute out of range`;
  if (!lit(':')) return cannot(':');
  const second = num(2);
  if (second === undefined) return cannot('05');
  if (second > 59) return `parsing time ${quote(value)}: second out of range`;
  let fraction = '';
  if ((value[i] === '.' || value[i] === ',') && /\d/.test(value[i + 1] ?? '')) {
    const m = /^\d+/.exec(value.slice(i + 1))!;
    fraction = m[0];
    i += 1 + fraction.length;
  }
  let offsetMinutes = 0;
  if (!lit('Z')) {
    const sign = value[i];
    if (sign !== '+' && sign !== '-') return cannot('Z07:00');
    const start = i;
    i++;
    const oh = num(2);
    const colon = oh !== undefined && lit(':');
    const om = colon ? num(2) : undefined;
    if (oh === undefined || om === undefined) {
      i = start;
      return cannot('Z07:00');
    }
    if (oh > 23 || om > 59) return `parsing time ${quote(value)}: time zone offset out of range`;
    offsetMinutes = (sign === '-' ? -1 : 1) * (oh * 60 + om);
  }
  if (i !== value.length) return `parsing time ${quote(value)}: extra text: ${quote(value.slice(i))}`;
  if (day < 1 || day > daysIn(month, year)) return `parsing time ${quote(value)}: day out of range`;
  // setUTCFullYear, unlike Date.UTC, keeps years below 100 as written.
  const d = new Date(0);
  d.setUTCFullYear(year, month - 1, day);
  d.setUTCHours(hour, minute, second, 0);
  const ms = d.getTime() - offsetMinutes * 60_000;
  return { ms, fraction };
}

/** `2006-01-02T15:04:05Z` in UTC: how Kubernetes writes a `Time`. */
export function formatRfc3339Seconds(t: ParsedTime): string {
  return `${formatIsoTime(t.ms).slice(0, 19)}Z`;
}

/** `2006-01-02T15:04:05.000000Z` in UTC: how Kubernetes writes a `MicroTime` (fraction truncated). */
export function formatRfc3339Micro(t: ParsedTime): string {
  return `${formatIsoTime(t.ms).slice(0, 19)}.${t.fraction.padEnd(6, '0').slice(0, 6)}Z`;
}
