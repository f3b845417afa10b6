/**
 * Hive's reading of a DDL string literal, ported from
 * `org.apache.hadoop.hive.ql.parse.BaseSemanticAnalyzer.unescapeSQLString`
 * (Apache Hive, Apache-2.0), which Athena's DDL goes through: what a table
 * property, a SerDe property, a LOCATION or a COMMENT holds once created.
 * `literal` is the literal as written, quotes included.
 */
export function hiveUnescape(literal: string): string {
  let enclosure: string | null = null;
  let out = '';
  for (let i = 0; i < literal.length; i++) {
    const c = literal[i] as string;
    if (enclosure === null) {
      if (c === "'" || c === '"') enclosure = c;
      continue; // everything outside the quotes is ignored
    }
    if (c === enclosure) {
      enclosure = null;
      continue;
    }
    if (c === '\\' && i + 6 < literal.length && literal[i + 1] === 'u') {
      out += String.fromCharCode(parseInt(literal.slice(i + 2, i + 6), 16));
      i += 5;
      continue;
    }
    if (c === '\\' && i + 4 < literal.length) {
      const [a, b, d] = [literal[i + 1] as string, literal[i + 2] as string, literal[i + 3] as string];
      if (a >= '0' && a <= '1' && b >= '0' && b <= '7' && d >= '0' && d <= '7') {
        out += String.fromCharCode((Number(a) * 64 + Number(b) * 8 + Number(d)) & 0xff);
        i += 3;
        continue;
      }
    }
    if (c === '\\' && i + 2 < literal.length) {
      const n = literal[i + 1] as string;
      const map: Record<string, string> = { 0: '\0', "'": "'", '"': '"', b: '\b', n: '\n', r: '\r', t: '\t', Z: '\u001a', '\\': '\\', '%': '\\%', _: '\\_' };
      out += map[n] ?? n; // an unknown escape loses its backslash
      i++;
    } else out += c;
  }
  return out;
}

/** Every Hive string literal in DDL text, as written (quotes included), in order. */
export function hiveLiterals(ddl: string): string[] {
  return [...ddl.matchAll(/'(?:[^'\\]|\\[\s\S])*'/g)].map((m) => m[0]);
}
