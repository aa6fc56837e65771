/**
 * The samples of a Prometheus text exposition (`GET /metrics`), by series: `name` or
 * `name{label="value",...}` as printed. Throws on a line that is not a sample, a HELP or a TYPE,
 * so a malformed answer fails the spec that reads it.
 */
export function parseMetrics(text: string): Map<string, number> {
  const samples = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('# HELP ') || line.startsWith('# TYPE ')) continue;
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*(?:\{[^}]*\})?) (\S+)$/.exec(line);
    if (!match) throw new Error(`not a Prometheus sample line: ${line}`);
    samples.set(match[1], Number(match[2]));
  }
  return samples;
}
