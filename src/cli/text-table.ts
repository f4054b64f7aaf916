/** A column of a command's table: its title, and what a row shows in it. */
export type Column<T> = readonly [title: string, cell: (row: T) => string];

/**
 * Rows as aligned columns of text for a terminal: whitespace folded, each cell cut at `maxWidth` except the
 * `whole` column's — the one a person copies into the next command (a key, an id, an address).
 */
export function textTable<T>(
  rows: readonly T[],
  columns: readonly Column<T>[],
  options: { empty: string; maxWidth: number; whole: string },
): string {
  if (rows.length === 0) return `${options.empty}\n`;
  const cells = rows.map((row) =>
    columns.map(([title, cell]) =>
      cell(row)
        .replace(/\s+/g, ' ')
        .slice(0, title === options.whole ? undefined : options.maxWidth),
    ),
  );
  const widths = columns.map(([title], i) => Math.max(title.length, ...cells.map((line) => line[i]!.length)));
  const line = (values: string[]) =>
    `${values
      .map((value, i) => value.padEnd(widths[i]!))
      .join('  ')
      .trimEnd()}\n`;
  return line(columns.map(([title]) => title)) + cells.map(line).join('');
}
