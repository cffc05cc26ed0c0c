/**
 * Plain space-aligned columns, as kubectl's tabwriter prints them: every column but the last is
 * padded to its widest cell plus three spaces; the last one is never padded.
 */

/** Formats rows (the first usually the header) as aligned columns, one line each. */
export function formatColumns(rows: readonly (readonly string[])[]): string {
  if (rows.length === 0) return '';
  const widths: number[] = [];
  for (const row of rows) {
    row.forEach((cell, i) => {
      if (i === row.length - 1) return;
      widths[i] = Math.max(widths[i] ?? 0, displayWidth(cell));
    });
  }
  let out = '';
  for (const row of rows) {
    let line = '';
    row.forEach((cell, i) => {
      line += i === row.length - 1 ? cell : cell + ' '.repeat(widths[i]! - displayWidth(cell) + 3);
    });
    out += `${line}\n`;
  }
  return out;
}

function displayWidth(s: string): number {
  // Code points, not UTF-16 units, so emoji and accented names line up like Go's utf8 counting.
  let n = 0;
  for (const _ of s) n++;
  return n;
}
