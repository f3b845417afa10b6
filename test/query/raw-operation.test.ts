import { describe, expect, it } from 'vitest';
import { loadDetections } from '../../query/detection.js';
import { OPERATIONS } from '../../query/views.js';

/**
 * A detection may test s3_requests' operation as logged (raw_operation)
 * instead of the view's name for it, so that the view does not look the
 * name up for every request: `raw_operation = 'GetObject' OR source =
 * 'access_log' AND raw_operation = 'REST.GET.OBJECT'` stands for
 * `operation = 'GetObject'`. That holds only while the access-log list is
 * exactly the operations the view names so (in both forms, on a bucket and
 * on an object): checked here against views.ts, for every such test.
 */
const library = await loadDetections();
const list = (text: string): string[] => [...text.matchAll(/'([^']*)'/g)].map((m) => m[1] as string).sort();
const one = "raw_operation = ('[^']+')";
const many = "contains\\(ARRAY\\[([^\\]]+)\\], raw_operation\\)";
const FORMS = [new RegExp(`${one} OR source = 'access_log' AND ${one}`, 'g'), new RegExp(`${many}\\s+OR source = 'access_log' AND ${many}`, 'g')];

/** The access-log operations the view names `names` (in either form), and those it names so in one form only. */
function loggedAs(names: readonly string[]): { both: string[]; partly: string[] } {
  const both = OPERATIONS.filter(([, b, o]) => names.includes(b) && names.includes(o)).map(([op]) => op);
  const partly = OPERATIONS.filter(([, b, o]) => names.includes(b) !== names.includes(o)).map(([op]) => op);
  return { both: both.sort(), partly };
}

describe('raw_operation tests', () => {
  const uses = library.flatMap((d) =>
    // (d.sql holds its with: queries too)
    FORMS.flatMap((re) => [...d.sql.matchAll(re)].map((m) => ({ id: d.id, names: list(m[1] as string), ops: list(m[2] as string) }))),
  );

  it('are all in one of the forms above (each holds two tests of raw_operation against a name), and the library has some', () => {
    expect(uses.length).toBeGreaterThan(0);
    for (const d of library) {
      const tests = [...d.sql.matchAll(/raw_operation = '|ARRAY\[[^\]]*\], raw_operation\)/g)].length;
      expect(tests, d.id).toBe(2 * uses.filter((u) => u.id === d.id).length);
    }
  });

  for (const u of uses) {
    it(`${u.id}: ${u.names.join(', ')} is logged by the access log as ${u.ops.join(', ')}`, () => {
      const { both, partly } = loggedAs(u.names);
      expect(partly).toEqual([]);
      expect(u.ops).toEqual(both);
      // A name the access log logs as itself (one the view does not map) is in the list of names, which both sources' rows are tested against.
      expect(u.names.every((n) => !OPERATIONS.some(([op]) => op === n))).toBe(true);
    });
  }
});
