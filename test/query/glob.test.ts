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
});
