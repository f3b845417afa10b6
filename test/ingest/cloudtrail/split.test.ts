import { describe, expect, it } from 'vitest';
import { JsonSplitter, MAX_VALUE_BYTES, type Shape } from '../../../ingest/cloudtrail/split.js';

interface Seen {
  shape: Shape | null;
  values: Array<[number, unknown]>;
  bad: Array<[number, string]>;
  blank: number[];
}

/** Split `text` fed in chunks of `chunk` bytes; values come back parsed. */
function split(text: string | Buffer, chunk = 1 << 20): Seen {
  const seen: Seen = { shape: null, values: [], bad: [], blank: [] };
  const s = new JsonSplitter({
    value: (b, st, e, where) => {
      const text = b.toString('utf8', st, e);
      let v: unknown;
      try {
        v = JSON.parse(text);
      } catch {
        v = { invalid: text };
      }
      seen.values.push([where, v]);
    },
    bad: (where, reason) => seen.bad.push([where, reason]),
    blank: (line) => seen.blank.push(line),
  });
  const buf = Buffer.isBuffer(text) ? text : Buffer.from(text);
  for (let i = 0; i < buf.length; i += chunk) s.push(buf.subarray(i, i + chunk));
  s.end();
  seen.shape = s.shape;
  return seen;
}

const rec = (n: number): Record<string, unknown> => ({ eventTime: '2025-03-10T00:00:00Z', eventName: `E${n}`, requestParameters: { key: `a"b}c]{[\\${n}` } });

describe('JsonSplitter', () => {
  it('gives the elements of a Records file, numbered by index', () => {
    const seen = split(JSON.stringify({ Records: [rec(1), rec(2), rec(3)] }));
    expect(seen.shape).toBe('records');
    expect(seen.values).toEqual([[1, rec(1)], [2, rec(2)], [3, rec(3)]]);
    expect(seen.bad).toEqual([]);
  });

  it('splits the same way whatever the chunk boundaries (strings with escaped quotes, braces and backslashes)', () => {
    const text = JSON.stringify({ Records: [rec(1), rec(2), rec(3), rec(4)] }, null, 2);
    const whole = split(text);
    for (const size of [1, 2, 3, 7, 64]) expect(split(text, size)).toEqual(whole);
  });

  it('reads a pretty-printed Records file, and ignores fields after the Records array', () => {
    const seen = split(`{\n  "Records": [\n    ${JSON.stringify(rec(1))},\n    ${JSON.stringify(rec(2))}\n  ],\n  "other": {"x": [1]}\n}\n`);
    expect(seen.values.map((v) => v[0])).toEqual([1, 2]);
    expect(seen.bad).toEqual([]);
  });

  it('numbers the records of several documents in one file on from one to the next: a file and a number name one record', () => {
    const records = split(`${JSON.stringify({ Records: [rec(1), rec(2)] })}\n${JSON.stringify({ Records: [rec(3)] })}\n`);
    expect(records.values).toEqual([[1, rec(1)], [2, rec(2)], [3, rec(3)]]);
    const arrays = split(`${JSON.stringify([rec(1)])}\n${JSON.stringify([rec(2), rec(3)])}`);
    expect(arrays.values).toEqual([[1, rec(1)], [2, rec(2)], [3, rec(3)]]);
    expect([records.bad, arrays.bad]).toEqual([[], []]);
  });

  it('gives the elements of a bare array, numbered by index', () => {
    const seen = split(JSON.stringify([rec(1), rec(2)]));
    expect(seen.shape).toBe('array');
    expect(seen.values).toEqual([[1, rec(1)], [2, rec(2)]]);
  });

  it('reads NDJSON line by line: a bad line is one reject and the next line goes on', () => {
    const lines = [JSON.stringify(rec(1)), '', '{"eventTime": "2025-03-10T00:00:00Z", "eventName": ', JSON.stringify(rec(4)), '   ', JSON.stringify(rec(6))];
    const seen = split(lines.join('\r\n') + '\r\n');
    expect(seen.shape).toBe('lines');
    expect(seen.values.map((v) => v[0])).toEqual([1, 3, 4, 6]);
    // The broken line is handed over as it is (the caller's JSON.parse rejects it).
    expect(seen.values[1]?.[1]).toEqual({ invalid: lines[2]?.trim() });
    expect(seen.values[2]?.[1]).toEqual(rec(4));
    expect(seen.blank).toEqual([2, 5]);
  });

  it('counts the blank lines of an NDJSON file before its first record, each once, and not a JSON document\'s', () => {
    const r1 = JSON.stringify(rec(1));
    const r2 = JSON.stringify(rec(2));
    for (const chunk of [1, 3, 1 << 20]) {
      const seen = split(`\n \r\n${r1}\n\n${r2}\n\n`, chunk);
      expect([chunk, seen.shape, seen.values.map(([w]) => w), seen.blank]).toEqual([chunk, 'lines', [3, 5], [1, 2, 4, 6]]);
      // A line that is not JSON before the first record is a reject, not a blank line too.
      const bad = split(`\nnot json\n\n${r1}\n`, chunk);
      expect([bad.bad.map(([w]) => w), bad.blank, bad.values.map(([w]) => w)]).toEqual([[2], [1, 3], [4]]);
    }
    // Whitespace around a Records document or an array is not a line of records.
    expect(split(`\n\n${JSON.stringify({ Records: [rec(1)] })}\n\n`).blank).toEqual([]);
    expect(split(`\n\n[${JSON.stringify(rec(1))}]\n`).blank).toEqual([]);
  });

  it('reads NDJSON without a final line end', () => {
    expect(split(`${JSON.stringify(rec(1))}\n${JSON.stringify(rec(2))}`).values.map((v) => v[0])).toEqual([1, 2]);
  });

  it('reads pretty-printed objects one after another, numbered by the line each starts on', () => {
    const seen = split(`${JSON.stringify(rec(1), null, 2)}\n\n${JSON.stringify(rec(2), null, 2)}\n`);
    expect(seen.shape).toBe('values');
    // rec(1) pretty-printed takes 7 lines, then a blank line.
    expect(seen.values.map((v) => v[0])).toEqual([1, 9]);
  });

  it('keeps the records before a truncation and rejects the broken one', () => {
    const text = JSON.stringify({ Records: [rec(1), rec(2), rec(3)] });
    const cut = text.slice(0, text.indexOf('E3') + 5);
    const seen = split(cut, 16);
    expect(seen.values.map((v) => v[0])).toEqual([1, 2]);
    expect(seen.bad).toEqual([[3, 'the file ends inside this record (truncated?)']]);
  });

  it('reports a Records array that never closes, after its last whole record', () => {
    const text = JSON.stringify({ Records: [rec(1)] });
    const seen = split(text.slice(0, text.lastIndexOf(']')) + ',');
    expect(seen.values.map((v) => v[0])).toEqual([1]);
    expect(seen.bad).toEqual([[2, 'the file ends before the Records array closes (truncated?); records before it were read']]);
  });

  it('rejects a line that is not JSON and goes on after it', () => {
    const seen = split(`not json at all\n${JSON.stringify(rec(2))}\n`);
    expect(seen.bad).toEqual([[1, 'not JSON: a CloudTrail file holds JSON objects or arrays']]);
    expect(seen.values.map((v) => v[0])).toEqual([2]);
  });

  it('rejects a record longer than the limit without holding it, and reads the next one', () => {
    const big = { eventName: 'Big', pad: 'x'.repeat(MAX_VALUE_BYTES + 10) };
    const seen = split(JSON.stringify({ Records: [rec(1), big, rec(3)] }), 1 << 20);
    expect(seen.values.map((v) => v[0])).toEqual([1, 3]);
    expect(seen.bad).toEqual([[2, `record longer than ${MAX_VALUE_BYTES} bytes`]]);
  });

  it('rejects an NDJSON line longer than the limit and reads the next line', () => {
    const big = JSON.stringify({ eventName: 'Big', pad: 'x'.repeat(MAX_VALUE_BYTES + 10) });
    const seen = split(`${JSON.stringify(rec(1))}\n${big}\n${JSON.stringify(rec(3))}\n`, 1 << 20);
    expect(seen.values.map((v) => v[0])).toEqual([1, 3]);
    expect(seen.bad).toEqual([[2, `record longer than ${MAX_VALUE_BYTES} bytes`]]);
  });

  it('drops a UTF-8 byte order mark', () => {
    const seen = split(Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(JSON.stringify({ Records: [rec(1)] }))]));
    expect(seen.values).toEqual([[1, rec(1)]]);
  });

  it('hands over scalars in an array as values (the parser rejects them)', () => {
    expect(split('[1, "two", {"a": 3}]').values).toEqual([[1, 1], [2, 'two'], [3, { a: 3 }]]);
  });

  it('reads nothing, and rejects nothing, from an empty file', () => {
    expect(split('')).toEqual({ shape: null, values: [], bad: [], blank: [] });
  });
});
