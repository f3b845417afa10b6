/**
 * Which of a run's sources to read: a source known with the same content
 * (or whose stat proves it unchanged) is passed over, as is one whose
 * content another source of the run or of the dataset already has; the
 * rest are read. A small file is decided once it is read (its fingerprint
 * comes from those bytes).
 */
import type { IngestSummary } from './ingest.js';
import type { KnownSources } from './manifest.js';
import { fingerprintBytes, type ReadAhead, type Source } from './sources.js';

/** Which sources to read; the rest go to `summary.passed` with a reason. */
export class Planner {
  /** This run's sources by fingerprint. */
  private readonly thisRun = new Map<string, Source>();
  /**
   * Sources passed over as known with the same content whose stat may now be
   * recorded (their entry had none, or another): the run adds it, so the
   * next run need not fingerprint them.
   */
  readonly restat: Source[] = [];

  constructor(private readonly known: KnownSources, private readonly force: boolean, private readonly summary: IngestSummary) {}

  /** The sources to read: those whose fingerprint is not known yet are decided when read (`fingerprinted`). */
  async plan(sources: Source[]): Promise<Source[]> {
    const todo: Source[] = [];
    for (const src of sources) {
      if (src.unchanged) this.summary.passed.push({ name: src.name, reason: 'already ingested' });
      else if (src.fingerprint === '' || (await this.wanted(src))) todo.push(src);
    }
    return todo;
  }

  /**
   * Fingerprint a small file from the bytes read ahead for parsing (read
   * once), and say whether to read it after all. Bytes that could not be
   * read leave a fingerprint that matches nothing: the read reports why.
   */
  async fingerprinted(src: Source, readAhead: ReadAhead | undefined): Promise<boolean> {
    const bytes = await readAhead?.whole(src)?.catch(() => null);
    src.fingerprint = bytes ? fingerprintBytes(bytes) : `${src.size}:unread:${src.key}`;
    return this.wanted(src);
  }

  private async wanted(src: Source): Promise<boolean> {
    const same = this.thisRun.get(src.fingerprint);
    if (same) {
      this.summary.passed.push({ name: src.name, reason: `same content as ${same.name}` });
      return false;
    }
    this.thisRun.set(src.fingerprint, src);
    if (this.force) return true;
    if (this.known.same(src.key, src.fingerprint)) {
      this.summary.passed.push({ name: src.name, reason: 'already ingested' });
      if (src.stat) this.restat.push(src);
      return false;
    }
    const twin = await this.known.twin(src.fingerprint);
    if (twin && twin.key !== src.key) {
      this.summary.passed.push({ name: src.name, reason: `same content as ${twin.name}, already ingested` });
      return false;
    }
    return true;
  }
}
