/**
 * Globs for suppression rules (docs/config.md): `*` is any run of
 * characters (`/` included), `?` is one character, everything else is
 * itself (case matters: S3 keys and ARNs are case-sensitive). No regular
 * expression is built: the pattern is cut at its stars and each piece is
 * found left to right, so matching costs at most the text's length times
 * the pattern's (which the config caps), and a hostile 1 MB key cannot make
 * it backtrack.
 */

/** Longest pattern a config may hold (what keeps matching linear in the text). */
export const MAX_GLOB_LENGTH = 1024;

export interface Glob {
  /** The pattern as written. */
  readonly source: string;
  /** True when `text` matches the whole pattern. */
  test(text: string): boolean;
}

/** The longest run of plain characters in `piece` (no `?`), and where it starts: what `find` looks for. */
function anchorOf(piece: string): { text: string; at: number } {
  let best = { text: '', at: 0 };
  for (const m of piece.matchAll(/[^?]+/g)) if (m[0].length > best.text.length) best = { text: m[0], at: m.index };
  return best;
}

/**
 * Where `piece` (`?` any character) first occurs in `text` at or after
 * `from`, or -1. A piece with `?` is looked for by its longest plain run
 * (indexOf), each place it occurs then checked whole, so a piece of many
 * `?` and one letter does not check every place of the text.
 */
function find(text: string, piece: string, from: number, anchor = anchorOf(piece)): number {
  if (!piece.includes('?')) return text.indexOf(piece, from);
  if (anchor.text === '') return from + piece.length <= text.length ? from : -1;
  for (let j = text.indexOf(anchor.text, from + anchor.at); j >= 0; j = text.indexOf(anchor.text, j + 1)) {
    const i = j - anchor.at;
    if (i + piece.length > text.length) return -1;
    if (at(text, piece, i)) return i;
  }
  return -1;
}

/** True when `piece` (`?` any character) matches `text` at `i`. */
function at(text: string, piece: string, i: number): boolean {
  if (i < 0 || i + piece.length > text.length) return false;
  for (let j = 0; j < piece.length; j++) {
    const c = piece[j];
    if (c !== '?' && c !== text[i + j]) return false;
  }
  return true;
}

/**
 * A glob: the head before the first `*` must start the text, the tail after
 * the last must end it, and the pieces between are found in order, each at
 * its leftmost place after the one before (leftmost is always safe for `*`).
 */
export function glob(pattern: string): Glob {
  const pieces = pattern.split('*');
  const head = pieces[0] as string;
  if (pieces.length === 1) return { source: pattern, test: (text) => text.length === head.length && at(text, head, 0) };
  const tail = pieces[pieces.length - 1] as string;
  const middle = pieces.slice(1, -1).filter((p) => p !== '').map((p) => ({ piece: p, anchor: anchorOf(p) }));
  return {
    source: pattern,
    test(text) {
      if (text.length < head.length + tail.length) return false;
      if (!at(text, head, 0) || !at(text, tail, text.length - tail.length)) return false;
      let from = head.length;
      const end = text.length - tail.length;
      for (const { piece, anchor } of middle) {
        const i = find(text, piece, from, anchor);
        if (i < 0 || i + piece.length > end) return false;
        from = i + piece.length;
      }
      return true;
    },
  };
}
