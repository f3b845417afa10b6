import { describe, expect, it } from 'vitest';
import { csv, csvSafeText, formatRows } from '../../query/format.js';
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

describe('CSV a spreadsheet opens runs no formula', () => {
  const formulas: Rows = {
    columns: [{ name: '=header', type: 'VARCHAR' }, ...['eq', 'plus', 'minus', 'at', 'tab', 'cr', 'plain', 'negative_text', 'negative', 'nested'].map((name) => ({ name, type: 'VARCHAR' }))],
    rows: [{
      '=header': 'h', eq: '=HYPERLINK("http://x","y")', plus: '+1+cmd', minus: "-2+3+cmd|' /C calc'!A0", at: '@SUM(A1)', tab: '\t=1', cr: '\r=1',
      plain: 'a=b', negative_text: '-42.5', negative: -7, nested: { a: '=x' },
    }],
  };

  it('puts a quote before text cells that start with = + - @ tab or CR, and quotes them (OWASP)', async () => {
    const out = await formatRows(formulas, 'csv') as string;
    expect(out).toBe(
      `"'=header",eq,plus,minus,at,tab,cr,plain,negative_text,negative,nested\n` +
        `h,"'=HYPERLINK(""http://x"",""y"")","'+1+cmd","'-2+3+cmd|' /C calc'!A0","'@SUM(A1)","'\t=1","'\r=1",a=b,-42.5,-7,"{""a"":""=x""}"\n`,
    );
  });

  it('also after leading spaces (some imports trim them) and in full-width forms', () => {
    for (const t of [' =1+1', '\u00a0=1+1', '\u200b=1+1', '  @SUM(A1)', '\uff1d1+1', '\uff0bcmd', '\u3000\uff20x']) expect(csvSafeText(t), JSON.stringify(t)).toBe(`'${t}`);
    for (const t of ['a =1', 'x@example.com', ' plain']) expect(csvSafeText(t), JSON.stringify(t)).toBe(t);
  });

  it('leaves numbers, and text that is only a number, as they are', () => {
    expect(csv(['n', 't'], [{ n: -1.5, t: '-3' }])).toBe('n,t\n-1.5,-3\n');
    expect(csvSafeText('-3-cmd')).toBe("'-3-cmd");
  });

  it('writes every cell as it is when asked for raw CSV', async () => {
    const raw = await formatRows(formulas, 'csv', { raw: true }) as string;
    expect(raw.split('\n')[1]).toBe(`h,"=HYPERLINK(""http://x"",""y"")",+1+cmd,-2+3+cmd|' /C calc'!A0,@SUM(A1),\t=1,"\r=1",a=b,-42.5,-7,"{""a"":""=x""}"`);
    expect(raw.split('\n')[0]?.startsWith('=header,')).toBe(true);
  });
});
