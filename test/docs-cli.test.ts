import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { CLI_DOC, cliReference } from '../scripts/cli-docs.js';

describe('docs/cli.md', () => {
  it('is the help every command prints, as generated from the flag declarations (npm run docs:cli rewrites it)', () => {
    expect(readFileSync(CLI_DOC, 'utf8')).toBe(cliReference());
  });
});
