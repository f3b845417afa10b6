/**
 * How much one answer may hold: at most so many rows and so many bytes
 * (each row counted as its JSON text). Rows are added one at a time, so an
 * answer stops growing at the cap instead of being built whole and cut.
 */

/** Why an answer stopped short: the row cap or the byte cap. */
export type TruncatedBy = 'row_cap' | 'byte_cap';

export class RowBudget {
  readonly rows: Array<Record<string, unknown>> = [];
  bytes = 0;
  /** Set once a row did not fit. */
  truncatedBy: TruncatedBy | null = null;

  constructor(
    private readonly rowCap: number,
    private readonly byteCap: number,
  ) {}

  /** Keep `row` if it fits; false (and `truncatedBy` set) when it does not, and no row after it will. */
  add(row: Record<string, unknown>): boolean {
    if (this.truncatedBy) return false;
    if (this.rows.length >= this.rowCap) {
      this.truncatedBy = 'row_cap';
      return false;
    }
    const size = Buffer.byteLength(JSON.stringify(row)) + 1;
    if (this.bytes + size > this.byteCap) {
      this.truncatedBy = 'byte_cap';
      return false;
    }
    this.bytes += size;
    this.rows.push(row);
    return true;
  }
}

/** The rows of `all` that fit the caps, and why the rest were left out. */
export function capRows(all: ReadonlyArray<Record<string, unknown>>, rowCap: number, byteCap: number): RowBudget {
  const b = new RowBudget(rowCap, byteCap);
  for (const r of all) if (!b.add(r)) break;
  return b;
}
