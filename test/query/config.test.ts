import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig, parseConfig, type Config } from '../../query/config.js';
import { applyConfig, layerOverrides } from '../../query/config-apply.js';
import { loadDetections, type Detection } from '../../query/detection.js';
import { paramsFor } from '../../query/detect.js';
import { tempDir } from '../helpers/dataset.js';

/** The ConfigError message parsing `text` gives. */
function error(text: string): string {
  try {
    parseConfig(text, 's3sift.yaml');
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as Error).message;
  }
  throw new Error('no error');
}

let library: Detection[];
beforeAll(async () => {
  library = await loadDetections([]);
});

const byId = (id: string): Detection => library.find((d) => d.id === id) as Detection;

/** The ConfigError message applying `text` to the library gives. */
function applyError(text: string): string {
  try {
    applyConfig(parseConfig(text, 's3sift.yaml'), { detections: library });
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as Error).message;
  }
  throw new Error('no error');
}

describe('config validation: each error names the file, line, column and key', () => {
  it('an empty file, or one of comments, is an empty config', () => {
    expect(parseConfig('', 'x.yaml')).toMatchObject({ file: 'x.yaml', params: [], suppress: [], intel: [] });
    expect(parseConfig('# nothing yet\n', 'x.yaml').suppress).toEqual([]);
  });

  it('not YAML, or duplicate keys', () => {
    expect(error('accounts: [\n')).toMatch(/^s3sift\.yaml:\d+:\d+: not valid YAML: /);
    expect(error('intel: []\nintel: []\n')).toMatch(/^s3sift\.yaml:2:1: not valid YAML: Map keys must be unique/);
  });

  it('unknown keys, with the allowed ones listed', () => {
    expect(error('acounts: {}\n')).toBe('s3sift.yaml:1:1: acounts: unknown key; allowed here: accounts, params, intel, suppress');
    expect(error('accounts:\n  ours: {}\n')).toBe('s3sift.yaml:2:3: accounts.ours: unknown key; allowed here: own, trusted');
    expect(error('suppress:\n  - detection: mass-delete\n    reason: x\n    ip: 10.0.0.1\n')).toBe(
      's3sift.yaml:4:5: suppress[0].ip: unknown key; allowed here: detection, bucket, key, principal, source_ip, user_agent, operation, reason, until',
    );
  });

  it('wrong types', () => {
    expect(error('- a\n')).toMatch(/^s3sift\.yaml:1:1: : must be a mapping/);
    expect(error('intel: lists/a.csv\n')).toBe('s3sift.yaml:1:8: intel: must be a list of files (- path/to/list.csv)');
    expect(error('suppress:\n  detection: x\n')).toMatch(/^s3sift\.yaml:2:3: suppress: must be a list of rules/);
    expect(error('params:\n  large-data-egress: {min_bytes: {a: 1}}\n')).toMatch(/^s3sift\.yaml:2:34: params\.large-data-egress\.min_bytes: must be a number, true or false, text, or a list$/);
    expect(error('suppress:\n  - detection: x\n    reason: x\n    bucket: []\n')).toMatch(/^s3sift\.yaml:4:13: suppress\[0\]\.bucket: an empty list matches nothing/);
  });

  it('bad account ids: not 12 digits, or a number that lost its leading zero', () => {
    expect(error('accounts:\n  own:\n    "11112222333": prod\n')).toBe('s3sift.yaml:3:5: accounts.own: an AWS account id is 12 digits (got "11112222333")');
    expect(error('accounts:\n  own:\n    12345678901: prod\n')).toBe('s3sift.yaml:3:5: accounts.own: an AWS account id is 12 digits (got "12345678901")');
    expect(error('accounts:\n  own:\n    "1111-2222-3333": prod\n')).toMatch(/^s3sift\.yaml:3:5: accounts\.own: an AWS account id is 12 digits/);
    // Unquoted, YAML reads a number; the id is the text as written, leading zero kept.
    expect(parseConfig('accounts:\n  own:\n    012345678901: prod\n', 'x').accounts.own).toEqual([{ id: '012345678901', name: 'prod' }]);
    expect(error('accounts:\n  own: {"111122223333": a}\n  trusted: {"111122223333": b}\n')).toMatch(/^s3sift\.yaml:3:13: accounts\.trusted\.111122223333: listed twice \(also under accounts\.own\)/);
  });

  it('bad dates and bad CIDRs', () => {
    expect(error('suppress:\n  - detection: mass-delete\n    reason: x\n    until: next week\n')).toBe(
      's3sift.yaml:4:12: suppress[0].until: not a date (got "next week"); write YYYY-MM-DD or an ISO 8601 time such as 2026-03-31T18:00:00Z',
    );
    expect(error('suppress:\n  - detection: mass-delete\n    reason: x\n    until: 2026-02-30\n')).toMatch(/^s3sift\.yaml:4:12: suppress\[0\]\.until: not a date/);
    for (const bad of ['10.0.0.0/33', '10.0.0/8', 'example.com', '2001:db8::/129', '10.0.0.0/8/1', '10.0.0.0/-1']) {
      expect(error(`suppress:\n  - detection: mass-delete\n    reason: x\n    source_ip: [192.0.2.1, "${bad}"]\n`)).toMatch(/^s3sift\.yaml:4:\d+: suppress\[0\]\.source_ip: not an IPv4 or IPv6 address or CIDR/);
    }
  });

  it('a rule without reason or detection, or one that would silence everything', () => {
    expect(error('suppress:\n  - detection: mass-delete\n    bucket: prod-data\n')).toMatch(/^s3sift\.yaml:2:5: suppress\[0\]: needs reason: /);
    expect(error('suppress:\n  - detection: mass-delete\n    reason: "  "\n')).toMatch(/^s3sift\.yaml:3:13: suppress\[0\]\.reason: is empty/);
    expect(error('suppress:\n  - bucket: prod-data\n    reason: x\n')).toMatch(/^s3sift\.yaml:2:5: suppress\[0\]: needs detection/);
    expect(error('suppress:\n  - detection: "*"\n    reason: everything is fine\n')).toMatch(/^s3sift\.yaml:2:5: suppress\[0\]: detection "\*" with no field to match would silence every finding/);
  });

  it('against the library: an unknown detection or parameter, or a value of the wrong type', () => {
    expect(applyError('params:\n  large-data-egres: {min_bytes: 1}\n')).toMatch(/^s3sift\.yaml:2:22: params\.large-data-egres: unknown detection/);
    expect(applyError('params:\n  large-data-egress: {min_byte: 1}\n')).toMatch(/^s3sift\.yaml:2:23: params\.large-data-egress\.min_byte: large-data-egress has no parameter min_byte \(it has .*min_bytes/);
    expect(applyError('params:\n  "*": {no_such_param: 1}\n')).toMatch(/^s3sift\.yaml:2:9: params\.\*\.no_such_param: no detection has a parameter no_such_param/);
    expect(applyError('params:\n  large-data-egress:\n    min_bytes: lots\n')).toMatch(/^s3sift\.yaml:3:5: params\.large-data-egress\.min_bytes: must be a number \(large-data-egress's default is 5000000000; got "lots"\)/);
    expect(applyError('suppress:\n  - detection: [mass-delete, mass-delet]\n    reason: x\n')).toMatch(/^s3sift\.yaml:2:5: suppress\[0\]\.detection: unknown detection mass-delet/);
  });

  it('account ids in params (owner_accounts, trusted_accounts) keep a leading zero, and must be 12 digits', () => {
    const apply = (text: string): Record<string, unknown> => paramsFor(byId('cross-account-access'), applyConfig(parseConfig(text, 's3sift.yaml'), { detections: library }).overrides);
    // Unquoted, YAML reads 012345678901 as the number 12345678901: the id as written is kept, as under accounts:.
    expect(apply('params:\n  cross-account-access: {trusted_accounts: [012345678901, 444455556666]}\n').trusted_accounts).toEqual(['012345678901', '444455556666']);
    expect(apply('params:\n  "*": {owner_accounts: 012345678901}\n').owner_accounts).toEqual(['012345678901']);
    expect(applyError('params:\n  cross-account-access:\n    trusted_accounts: ["44445555666"]\n')).toMatch(/^s3sift\.yaml:3:5: params\.cross-account-access\.trusted_accounts: an AWS account id is 12 digits \(got "44445555666"\)/);
    expect(applyError('params:\n  "*":\n    trusted_accounts: ["*"]\n')).toMatch(/^s3sift\.yaml:3:5: params\.\*\.trusted_accounts: an AWS account id is 12 digits \(got "\*"\)/);
    // Other numbers written with a leading zero are still numbers.
    expect(paramsFor(byId('large-data-egress'), applyConfig(parseConfig('params:\n  large-data-egress: {min_bytes: 0100}\n', 's3sift.yaml'), { detections: library }).overrides).min_bytes).toBe(100);
  });
});

describe('config values', () => {
  const text = `
accounts:
  own:
    "111122223333": prod
    "222233334444":
  trusted:
    444455556666: partner
params:
  large-data-egress: {min_bytes: 2e9}
  "*": {window_minutes: 30}
  presigned-url-long-expiry:
    max_expires_s: 86400
intel:
  - lists/tor.csv
  - /abs/list.txt
suppress:
  - detection: anonymous-access
    bucket: web-assets
    key: "img/*"
    source_ip: [203.0.113.0/24, "2001:db8::/32"]
    reason: the public site
    until: 2026-03-31
`;
  let config: Config;
  beforeAll(() => {
    config = parseConfig(text, '/etc/s3sift/s3sift.yaml');
  });

  it('reads accounts (names optional), params, intel paths relative to the file, and rules with their place', () => {
    expect(config.accounts).toEqual({ own: [{ id: '111122223333', name: 'prod' }, { id: '222233334444', name: null }], trusted: [{ id: '444455556666', name: 'partner' }] });
    expect(config.intel).toEqual(['/etc/s3sift/lists/tor.csv', '/abs/list.txt']);
    expect(config.params.map((p) => [p.detection, p.name, p.value, p.at.line])).toEqual([
      ['large-data-egress', 'min_bytes', 2e9, 9], ['*', 'window_minutes', 30, 10], ['presigned-url-long-expiry', 'max_expires_s', 86400, 12],
    ]);
    const [rule] = config.suppress;
    expect(rule).toMatchObject({ index: 1, at: { file: '/etc/s3sift/s3sift.yaml', line: 17, col: 5 }, detections: ['anonymous-access'], reason: 'the public site', untilText: '2026-03-31' });
    // A date alone is through that day.
    expect(rule?.until?.toISOString()).toBe('2026-04-01T00:00:00.000Z');
  });

  it('own accounts feed owner_accounts, trusted ones trusted_accounts; config params go on top; --param flags win over both', () => {
    const applied = applyConfig(config, { detections: library, flags: { max_expires_s: '60', 'cross-account-access.owner_accounts': '999999999999' } });
    const egress = paramsFor(byId('large-data-egress'), applied.overrides);
    expect(egress.min_bytes).toBe(2e9);
    expect(egress.window_minutes).toBe(30);
    expect(paramsFor(byId('presigned-url-long-expiry'), applied.overrides).max_expires_s).toBe(60);
    expect(paramsFor(byId('copy-out-then-delete'), applied.overrides).owner_accounts).toEqual(['111122223333', '222233334444']);
    expect(paramsFor(byId('cross-account-access'), applied.overrides)).toMatchObject({ owner_accounts: ['999999999999'], trusted_accounts: ['444455556666'] });
    expect(paramsFor(byId('bucket-policy-external-account'), applied.overrides).trusted_accounts).toEqual(['444455556666']);
  });

  it('a global flag replaces the config value of every detection, a detection flag only its own', () => {
    expect(layerOverrides({ 'a.n': '1', 'b.n': '2', m: '3' }, { n: '9' })).toEqual({ n: '9', m: '3' });
    expect(layerOverrides({ 'a.n': '1', n: '2' }, { 'b.n': '9' })).toEqual({ 'a.n': '1', n: '2', 'b.n': '9' });
  });

  it('keeps only the overrides of the detections that run (--only), so a config for the library works with any selection', () => {
    const applied = applyConfig(config, { detections: library, selected: [byId('mass-delete')] });
    expect(Object.keys(applied.overrides)).toEqual(['window_minutes']);
  });

  it('gives the config intel files first, then the --intel flags', () => {
    expect(applyConfig(config, { detections: library, intel: ['flag.csv'] }).intel).toEqual(['/etc/s3sift/lists/tor.csv', '/abs/list.txt', 'flag.csv']);
  });
});

describe('loadConfig', () => {
  let tmp: { dir: string; cleanup: () => void };
  beforeAll(() => {
    tmp = tempDir();
    for (const d of ['cwd', 'data', 'both', 'both-data', 'none']) mkdirSync(join(tmp.dir, d));
    writeFileSync(join(tmp.dir, 'cwd', 's3sift.yaml'), 'params: {"*": {window_minutes: 1}}\n');
    writeFileSync(join(tmp.dir, 'data', 's3sift.yaml'), 'params: {"*": {window_minutes: 2}}\n');
    writeFileSync(join(tmp.dir, 'both', 's3sift.yaml'), 'params: {"*": {window_minutes: 3}}\n');
    writeFileSync(join(tmp.dir, 'both-data', 's3sift.yaml'), 'params: {"*": {window_minutes: 4}}\n');
    writeFileSync(join(tmp.dir, 'given.yaml'), 'params: {"*": {window_minutes: 5}}\n');
  });
  afterAll(() => tmp.cleanup());

  const minutes = (c: Config): unknown => c.params[0]?.value;

  it('reads --config, else ./s3sift.yaml, else <data>/s3sift.yaml, else none', async () => {
    const d = (x: string): string => join(tmp.dir, x);
    expect(minutes(await loadConfig({ path: d('given.yaml'), dataDir: d('both-data'), cwd: d('both') }))).toBe(5);
    expect(minutes(await loadConfig({ dataDir: d('both-data'), cwd: d('both') }))).toBe(3);
    expect(minutes(await loadConfig({ dataDir: d('data'), cwd: d('none') }))).toBe(2);
    expect(await loadConfig({ dataDir: d('none'), cwd: d('none') })).toMatchObject({ file: null, params: [], suppress: [] });
  });

  it('an intel list that does not exist is an error at its line, the path read from the config file\'s folder', async () => {
    const file = join(tmp.dir, 'intel.yaml');
    writeFileSync(file, 'intel:\n  - given.yaml\n  - lists/missing.csv\n');
    await expect(loadConfig({ path: file, dataDir: tmp.dir })).rejects.toThrow(`${file}:3:5: intel[1]: no such file: ${join(tmp.dir, 'lists', 'missing.csv')} (paths are relative to the config file's folder)`);
  });

  it('a found file (not --config) that anyone may write is refused: whoever writes it could silence findings', async () => {
    const open = join(tmp.dir, 'open');
    mkdirSync(open);
    const file = join(open, 's3sift.yaml');
    writeFileSync(file, 'accounts:\n  trusted:\n    "999988887777": attacker\n');
    chmodSync(file, 0o666);
    await expect(loadConfig({ dataDir: open, cwd: join(tmp.dir, 'none') })).rejects.toThrow(/s3sift\.yaml: anyone may write this file .*--config/);
    // Named with --config, it is the user's choice.
    expect((await loadConfig({ path: file, dataDir: open })).accounts.trusted).toHaveLength(1);
  });

  it("samples/s3sift.yaml: valid, and no rule of it expires within a year (npm start's report and the tests count its rules)", async () => {
    const sample = await loadConfig({ path: new URL('../../samples/s3sift.yaml', import.meta.url).pathname, dataDir: tmp.dir });
    expect(sample.suppress).toHaveLength(3);
    for (const r of sample.suppress) if (r.until) expect(r.until.getTime()).toBeGreaterThan(Date.now() + 365 * 86_400_000);
  });

  it('a --config file that does not exist is an error naming it', async () => {
    await expect(loadConfig({ path: join(tmp.dir, 'missing.yaml'), dataDir: tmp.dir })).rejects.toThrow(/missing\.yaml: cannot read the config \(ENOENT\)/);
  });
});

describe('docs/config.md', () => {
  it('documents every key of the config file', async () => {
    const { readFileSync } = await import('node:fs');
    const { ACCOUNT_KEYS, CONFIG_KEYS, SUPPRESS_KEYS } = await import('../../query/config.js');
    const doc = readFileSync(new URL('../../docs/config.md', import.meta.url), 'utf8');
    for (const k of Object.keys(CONFIG_KEYS)) expect(doc).toContain(`### \`${k}\``);
    for (const k of Object.keys(ACCOUNT_KEYS)) expect(doc).toContain(`- \`${k}\`:`);
    for (const k of Object.keys(SUPPRESS_KEYS)) expect(doc).toContain(`| \`${k}\` |`);
  });
});
