/**
 * Unpaired UTF-16 surrogates. Bytes read from a file decode to valid text
 * (bad UTF-8 becomes U+FFFD), but a JSON escape can name half a surrogate
 * pair (`"\udfff"`), and `JSON.parse` returns it as it is. No UTF-8 writer
 * can encode it: Node writes U+FFFD, DuckDB refuses it in JSON (which stopped
 * every run at the Parquet write). So each one becomes U+FFFD, the way Node
 * and the line reader already treat bytes that are not text, and the record
 * is kept: a reject would let a planted escape hide a record from the
 * detections.
 */

/** A code point in the surrogate range: with the `u` flag only an unpaired surrogate is one. */
const LONE_SURROGATE = /\p{Cs}/u;
const LONE_SURROGATES = /\p{Cs}/gu;
/** A JSON escape of a surrogate (`\uD800` to `\uDFFF`); paired or not, this is what can make one. */
const SURROGATE_ESCAPE = /\\u[dD][89a-fA-F][0-9a-fA-F]{2}/;

/** `s` with each unpaired surrogate replaced by U+FFFD. */
export function wellFormed(s: string): string {
  return LONE_SURROGATE.test(s) ? s.replace(LONE_SURROGATES, '\ufffd') : s;
}

/** True when JSON text may decode to an unpaired surrogate (it escapes one). */
export function hasSurrogateEscape(json: string): boolean {
  return json.includes('\\u') && SURROGATE_ESCAPE.test(json);
}

/**
 * A value `JSON.parse` returned, with every unpaired surrogate in its
 * strings and keys replaced by U+FFFD (objects and arrays are changed in
 * place, keys keep their order). Iterative: safe at any depth.
 */
export function wellFormedValue(v: unknown): unknown {
  if (typeof v === 'string') return wellFormed(v);
  const stack: unknown[] = [v];
  while (stack.length > 0) {
    const x = stack.pop();
    if (typeof x !== 'object' || x === null) continue;
    if (Array.isArray(x)) {
      for (let i = 0; i < x.length; i++) {
        const item: unknown = x[i];
        if (typeof item === 'string') x[i] = wellFormed(item);
        else stack.push(item);
      }
      continue;
    }
    const o = x as Record<string, unknown>;
    const keys = Object.keys(o);
    if (keys.some((k) => LONE_SURROGATE.test(k))) {
      // Re-add every key in order; a repaired key equal to a later one is overwritten by it, as in JSON.
      const entries = keys.map((k) => [k, o[k]] as const);
      for (const k of keys) delete o[k];
      for (const [k, val] of entries) Object.defineProperty(o, wellFormed(k), { value: val, writable: true, enumerable: true, configurable: true });
    }
    for (const k of Object.keys(o)) {
      const val = o[k];
      if (typeof val === 'string') o[k] = wellFormed(val);
      else stack.push(val);
    }
  }
  return v;
}
