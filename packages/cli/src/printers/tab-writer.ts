/**
 * Go's text/tabwriter elastic tabstops (as kubectl's describe uses them): cells end with `\t`;
 * a column is aligned across each block of consecutive lines that have a cell in it. The text
 * after the last tab of a line is never padded.
 */

/** Aligns tab-separated text with `padding` spaces after the widest cell of each column block. */
export function alignTabs(text: string, padding = 2, minWidth = 0): string {
  const lines = text.split('\n');
  const trailing = lines[lines.length - 1] === '' ? lines.pop() : undefined;
  const cells = lines.map((l) => l.split('\t'));
  const out: string[] = cells.map(() => '');
  const widths: number[] = [];
  const len = (s: string) => [...s].length;
  const writeLines = (line0: number, line1: number) => {
    for (let i = line0; i < line1; i++) {
      const row = cells[i]!;
      let s = '';
      row.forEach((c, j) => {
        if (j < row.length - 1) s += c + ' '.repeat(Math.max(0, (widths[j] ?? 0) - len(c)));
        else s += c;
      });
      out[i] = s;
    }
  };
  const format = (line0: number, line1: number): void => {
    const column = widths.length;
    for (let t = line0; t < line1; t++) {
      if (column >= cells[t]!.length - 1) continue;
      writeLines(line0, t);
      line0 = t;
      let width = minWidth;
      for (; t < line1; t++) {
        const row = cells[t]!;
        if (column >= row.length - 1) break;
        width = Math.max(width, len(row[column]!) + padding);
      }
      widths.push(width);
      format(line0, t);
      widths.pop();
      line0 = t;
      t--;
    }
    writeLines(line0, line1);
  };
  format(0, cells.length);
  return out.join('\n') + (trailing !== undefined ? '\n' : '');
}
