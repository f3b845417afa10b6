import { PassThrough, Readable } from 'node:stream';
import type { Streams } from '../../cli/command.js';

/** Streams for running the CLI in-process (`main(argv, captureIo())`): what it wrote, as text. */
export function captureIo(stdin = ''): Streams & { out(): string; err(): string } {
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  stdout.on('data', (b: Buffer) => out.push(b));
  stderr.on('data', (b: Buffer) => err.push(b));
  return {
    stdout, stderr, stdin: Readable.from([stdin]), env: {},
    out: () => Buffer.concat(out).toString('utf8'),
    err: () => Buffer.concat(err).toString('utf8'),
  };
}
