/**
 * How deep a CloudTrail record may nest. Real records nest about 10 levels
 * (a bucket policy inside `requestParameters` is the deepest part); 100 is
 * far past that and far below where `JSON.stringify` and recursive readers
 * run out of stack (a few thousand levels), which made one deep record stop
 * the reading of its whole file.
 */

/** Levels a record may nest: the record object is level 1, each object or array inside it one more. */
export const MAX_DEPTH = 100;

/** The reject reason for a record nested deeper than MAX_DEPTH. */
export const TOO_DEEP = `nested deeper than ${MAX_DEPTH} levels`;

/** True when `v` nests deeper than `max` levels (a scalar is level 0). Iterative: safe at any depth. */
export function deeperThan(v: unknown, max: number): boolean {
  const values: unknown[] = [v];
  const levels: number[] = [1];
  while (values.length > 0) {
    const x = values.pop();
    const level = levels.pop() as number;
    if (typeof x !== 'object' || x === null) continue;
    if (level > max) return true;
    for (const child of Array.isArray(x) ? x : Object.values(x as object)) {
      if (typeof child === 'object' && child !== null) {
        values.push(child);
        levels.push(level + 1);
      }
    }
  }
  return false;
}
