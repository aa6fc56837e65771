/** A Markdown table of `cells` (the first row is the header), columns padded to their widest cell. */
export function table(cells) {
  const widths = cells[0].map((_, c) => Math.max(...cells.map((r) => String(r[c] ?? '').length)));
  const line = (r) => `| ${r.map((cell, c) => String(cell ?? '').padEnd(widths[c])).join(' | ')} |`;
  return [line(cells[0]), `| ${widths.map((w) => '-'.repeat(w)).join(' | ')} |`, ...cells.slice(1).map(line)].join('\n');
}
