import { describe, expect, it } from 'vitest';
import { formatRfc3339Micro, formatRfc3339Seconds, parseRfc3339, type ParsedTime } from './go-time.js';

function parsed(s: string): ParsedTime {
  const t = parseRfc3339(s);
  if (typeof t === 'string') throw new Error(t);
  return t;
}

describe('parseRfc3339', () => {
  it.each([
    ['2024-01-02T03:04:05Z', '2024-01-02T03:04:05Z', '2024-01-02T03:04:05.000000Z'],
    ['2024-01-02T03:04:05.678Z', '2024-01-02T03:04:05Z', '2024-01-02T03:04:05.678000Z'],
    ['2024-01-02T03:04:05.123456789Z', '2024-01-02T03:04:05Z', '2024-01-02T03:04:05.123456Z'],
    ['2024-01-02T03:04:05+02:00', '2024-01-02T01:04:05Z', '2024-01-02T01:04:05.000000Z'],
    ['2024-01-01T00:30:00-01:00', '2024-01-01T01:30:00Z', '2024-01-01T01:30:00.000000Z'],
    ['2024-02-29T00:00:00Z', '2024-02-29T00:00:00Z', '2024-02-29T00:00:00.000000Z'],
  ])('%s -> %s / %s', (input, seconds, micro) => {
    const t = parsed(input);
    expect(formatRfc3339Seconds(t)).toBe(seconds);
    expect(formatRfc3339Micro(t)).toBe(micro);
  });

  it('keeps years below 100 as written', () => {
    expect(formatRfc3339Seconds(parsed('0042-06-01T00:00:00Z'))).toBe('0042-06-01T00:00:00Z');
  });

  it.each([
    ['yesterday', 'parsing time "yesterday" as "2006-01-02T15:04:05Z07:00": cannot parse "yesterday" as "2006"'],
    ['', 'parsing time "" as "2006-01-02T15:04:05Z07:00": cannot parse "" as "2006"'],
    ['2024-1-02T03:04:05Z', 'parsing time "2024-1-02T03:04:05Z" as "2006-01-02T15:04:05Z07:00": cannot parse "1-02T03:04:05Z" as "01"'],
    ['2024-01-02 03:04:05Z', 'parsing time "2024-01-02 03:04:05Z" as "2006-01-02T15:04:05Z07:00": cannot parse " 03:04:05Z" as "T"'],
    ['2024-01-02T03:04:05', 'parsing time "2024-01-02T03:04:05" as "2006-01-02T15:04:05Z07:00": cannot parse "" as "Z07:00"'],
    ['2024-13-02T03:04:05Z', 'parsing time "2024-13-02T03:04:05Z": month out of range'],
    ['2023-02-29T03:04:05Z', 'parsing time "2023-02-29T03:04:05Z": day out of range'],
    ['2024-01-02T24:04:05Z', 'parsing time "2024-01-02T24:04:05Z": hour out of range'],
    ['2024-01-02T03:04:05Zjunk', 'parsing time "2024-01-02T03:04:05Zjunk": extra text: "junk"'],
  ])('rejects %j like Go', (input, message) => {
    expect(parseRfc3339(input)).toBe(message);
  });
});
