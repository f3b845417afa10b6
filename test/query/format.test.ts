import { describe, expect, it } from 'vitest';
import { formatRows } from '../../query/format.js';
import type { Rows } from '../../query/rows.js';

const tricky: Rows = {
  columns: ['null', 'empty', 'spaces', 'null_text', 'quoted', 'plain'].map((name) => ({ name, type: 'VARCHAR' })),
  rows: [{ null: null, empty: '', spaces: '  ', null_text: 'NULL', quoted: "'x'", plain: "it's" }],
};

describe('query output tells NULL from text', () => {
  it('in the table: NULL as NULL, text that would read as NULL or as nothing in quotes', async () => {
    const [, dashes, row] = (await formatRows(tricky, 'table') as string).split('\n') as [string, string, string];
    // Cut the row at the columns the dashes mark.
    const cells: string[] = [];
    for (const m of dashes.matchAll(/-+/g)) cells.push(row.slice(m.index, m.index + m[0].length).trimEnd());
    expect(cells).toEqual(['NULL', "''", "'  '", "'NULL'", "'''x'''", "it's"]);
  });

  it('in CSV: NULL as an empty field, empty text as ""', async () => {
    expect((await formatRows(tricky, 'csv') as string).split('\n')[1]).toBe(`,"",  ,NULL,'x',it's`);
  });

  it('in JSON as null and ""', async () => {
    expect(JSON.parse(await formatRows(tricky, 'json') as string).rows[0]).toMatchObject({ null: null, empty: '' });
  });
});
