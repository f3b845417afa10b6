/**
 * The bytes the readers look for in raw input, named once, and the UTF-8
 * byte order mark some exporters put before the first line.
 *
 * Byte loops take module-local copies (`const { NL } = bytes`): V8 reads an
 * imported binding on every use, and compared against imported constants
 * the access-log scan ran about 20% slower than against its own.
 */
export const TAB = 0x09;
export const NL = 0x0a;
export const CR = 0x0d;
export const SPACE = 0x20;
/** `"`: JSON strings and the access log's quoted fields. */
export const DOUBLE_QUOTE = 0x22;
export const DASH = 0x2d;
export const BACKSLASH = 0x5c;

/** Length of a UTF-8 byte order mark (EF BB BF) at `at`: 3, else 0 (also for the first bytes of one that is cut off). */
export function bomLength(b: Uint8Array, at = 0): number {
  return b[at] === 0xef && b[at + 1] === 0xbb && b[at + 2] === 0xbf ? 3 : 0;
}
