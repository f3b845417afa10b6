import { describe, expect, it } from 'vitest';
import { glob } from '../../query/glob.js';

describe('glob', () => {
  it('matches * as any run of characters (slashes too) and ? as one character, anchored at both ends', () => {
    expect(glob('img/*').test('img/a/b.png')).toBe(true);
    expect(glob('img/*').test('img')).toBe(false);
    expect(glob('*.png').test('img/banner.png')).toBe(true);
    expect(glob('*.png').test('img/banner.png.bak')).toBe(false);
    expect(glob('a*b*c').test('abc')).toBe(true);
    expect(glob('a*b*c').test('aXXbYYc')).toBe(true);
    expect(glob('a*b*c').test('aXXcYYb')).toBe(false);
    expect(glob('ab*ba').test('aba')).toBe(false);
    expect(glob('file-?.csv').test('file-1.csv')).toBe(true);
    expect(glob('file-?.csv').test('file-12.csv')).toBe(false);
    expect(glob('*?x?*').test('axb')).toBe(true);
    expect(glob('*').test('')).toBe(true);
    expect(glob('').test('')).toBe(true);
    expect(glob('').test('x')).toBe(false);
  });

  it('treats every other character as itself: regex syntax and case matter', () => {
    expect(glob('a.b').test('axb')).toBe(false);
    expect(glob('(a|b)+').test('(a|b)+')).toBe(true);
    expect(glob('[abc]').test('a')).toBe(false);
    expect(glob('\\d').test('\\d')).toBe(true);
    expect(glob('Prod-*').test('prod-data')).toBe(false);
    expect(glob('arn:aws:sts::111122223333:assumed-role/etl-role/*').test('arn:aws:sts::111122223333:assumed-role/etl-role/i-0a1b2c3d4e5f67890')).toBe(true);
  });

  it('stays linear on a hostile 1 MB text: no backtracking, whatever the pattern', () => {
    const key = 'a'.repeat(1 << 20);
    const patterns = ['*a*a*a*a*a*a*a*a*b', '*?a?*?a?*?a?*b', 'a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*', '*aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaab*'];
    const start = performance.now();
    for (const p of patterns) glob(p).test(key);
    expect(glob('*a*a*b').test(key)).toBe(false);
    expect(glob('*a*a*a').test(key)).toBe(true);
    expect(performance.now() - start).toBeLessThan(2000);
  });

  it('finds a piece with ? by its plain characters: a long piece of ? and one letter is not a scan of every place', () => {
    const key = 'a'.repeat(1 << 20);
    const start = performance.now();
    expect(glob(`*${'?'.repeat(1000)}b*`).test(key)).toBe(false);
    expect(glob(`a*${'?a'.repeat(500)}b*`).test(key)).toBe(false);
    expect(glob(`*${'?'.repeat(1000)}*`).test(key)).toBe(true);
    expect(performance.now() - start).toBeLessThan(500);
    // The same answers as before on small texts.
    expect(glob('*?b?*').test('bb')).toBe(false);
    expect(glob('*?b?*').test('xabyz')).toBe(true);
    expect(glob('*b?b*').test('abxb')).toBe(true);
    expect(glob('x*?ab?c*').test('xqqabqabzc')).toBe(true);
    expect(glob('x*?ab?c*y').test('xqqabqabzcy')).toBe(true);
    expect(glob('*??*').test('a')).toBe(false);
  });

  it('gives the answer of the regular expression it stands for, on 20,000 small patterns and texts', () => {
    let seed = 17;
    const rand = (n: number): number => ((seed = (seed * 1103515245 + 12345) % 2147483648) % n);
    const ref = (p: string, t: string): boolean => new RegExp(`^${[...p].map((c) => (c === '*' ? '[\\s\\S]*' : c === '?' ? '[\\s\\S]' : c)).join('')}$`).test(t);
    for (let n = 0; n < 20000; n++) {
      const p = Array.from({ length: rand(8) }, () => 'ab*?'[rand(4)]).join('');
      const t = Array.from({ length: rand(9) }, () => 'ab'[rand(2)]).join('');
      if (glob(p).test(t) !== ref(p, t)) expect({ p, t, glob: glob(p).test(t) }).toEqual({ p, t, glob: ref(p, t) });
    }
  });
});
