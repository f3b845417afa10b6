/**
 * The package as a user gets it: `npm pack` of the repository, the tarball
 * installed into an empty folder, and s3sift run from there.
 *
 * Offline, like every test: the install must not reach a registry. npm needs
 * registry metadata to resolve the package's version ranges, which `npm ci`
 * (what CI and a fresh checkout run first) does not leave in npm's cache, so
 * the empty project gets a lockfile instead: the tarball, plus every runtime
 * entry of the repository's package-lock.json (the versions the suite tests)
 * with its registry address and integrity. `npm ci --offline` then takes each
 * tarball from npm's cache by its integrity, and the registry is pointed at a
 * closed loopback port to show that nothing is fetched.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tempDir } from './helpers/dataset.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const PKG = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { name: string; version: string; dependencies: Record<string, string>; bin: Record<string, string>; engines: Record<string, string>; license: string };
const SAMPLE = join(ROOT, 'samples/access-logs/prod-data/2025-03-10.log');

interface LockEntry { version: string; integrity?: string; resolved?: string; dev?: boolean; [k: string]: unknown }

/** npm with the environment of the test run minus what `npm test` adds (npm_config_local_prefix would point the child at the repository). */
function npm(args: string[], cwd: string, extraEnv: Record<string, string> = {}): { code: number | null; stdout: string; stderr: string } {
  const keep = new Set(['npm_config_cache', 'npm_config_userconfig', 'npm_config_globalconfig', 'npm_config_cafile']);
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined && (!/^npm_/i.test(k) || keep.has(k.toLowerCase()))) env[k] = v;
  // No update notice and no progress chatter: the test reads npm's stderr.
  const r = spawnSync('npm', args, { cwd, env: { ...env, npm_config_update_notifier: 'false', npm_config_loglevel: 'error', ...extraEnv }, encoding: 'utf8' });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** The lockfile of a project whose only dependency is the tarball: the tarball and the runtime entries of package-lock.json. */
function lockfileFor(tarballSpec: string, tarball: string): object {
  const lock = JSON.parse(readFileSync(join(ROOT, 'package-lock.json'), 'utf8')) as { lockfileVersion: number; packages: Record<string, LockEntry> };
  const packages: Record<string, unknown> = {
    '': { name: 'empty', version: '1.0.0', dependencies: { [PKG.name]: tarballSpec } },
    [`node_modules/${PKG.name}`]: {
      version: PKG.version,
      resolved: tarballSpec,
      integrity: 'sha512-' + createHash('sha512').update(readFileSync(tarball)).digest('base64'),
      license: PKG.license,
      dependencies: PKG.dependencies,
      bin: PKG.bin,
      engines: PKG.engines,
    },
  };
  for (const [path, entry] of Object.entries(lock.packages)) {
    if (path === '' || entry.dev) continue;
    const name = path.slice(path.lastIndexOf('node_modules/') + 'node_modules/'.length);
    const resolved = entry.resolved ?? `https://registry.npmjs.org/${name}/-/${name.split('/').pop()}-${entry.version}.tgz`;
    packages[path] = { ...entry, resolved };
  }
  return { name: 'empty', version: '1.0.0', lockfileVersion: lock.lockfileVersion, requires: true, packages };
}

describe('the npm package', () => {
  let tmp: { dir: string; cleanup: () => void };
  let files: string[] = [];
  let app = '';
  let install: ReturnType<typeof npm>;

  beforeAll(() => {
    tmp = tempDir('s3sift-package-');
    const packDir = join(tmp.dir, 'pack');
    mkdirSync(packDir);
    // --ignore-scripts: no prepare (tsc) here, since the suite runs after `tsc -p .` and
    // a build during the run would rewrite dist/ under the other tests.
    const pack = npm(['pack', '--ignore-scripts', '--json', '--pack-destination', packDir], ROOT);
    expect(pack.stderr).toBe('');
    expect(pack.code).toBe(0);
    const [packed] = JSON.parse(pack.stdout) as { filename: string; files: { path: string }[] }[];
    files = packed!.files.map((f) => f.path).sort();

    app = join(tmp.dir, 'app');
    mkdirSync(app);
    const spec = `file:../pack/${packed!.filename}`;
    writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'empty', version: '1.0.0', private: true, dependencies: { [PKG.name]: spec } }, null, 2));
    writeFileSync(join(app, 'package-lock.json'), JSON.stringify(lockfileFor(spec, join(packDir, packed!.filename)), null, 2));
    install = npm(['ci', '--offline', '--no-audit', '--no-fund', '--loglevel=error'], app, { npm_config_registry: 'http://127.0.0.1:9/' });
  }, 180_000);

  afterAll(() => tmp?.cleanup());

  it('ships what a user runs and nothing else', () => {
    expect(files).toContain('bin/s3sift');
    expect(files).toContain('dist/cli/main.js');
    expect(files).toContain('package.json');
    expect(files).toContain('LICENSE');
    expect(files).toContain('README.md');
    expect(files).toContain('CHANGELOG.md');
    expect(files).toContain('query/detections/mass-delete.yaml');
    expect(files).toContain('samples/access-logs/prod-data/2025-03-10.log'); // what athena verify publishes
    expect(files.filter((f) => f.startsWith('query/')).every((f) => /^query\/detections\/[a-z0-9-]+\.yaml$/.test(f))).toBe(true);
    const stray = files.filter((f) => /^(dist\/(test|bench|scripts)\/|test\/|bench\/|scripts\/|node_modules\/)/.test(f) || f.endsWith('.map') || f.endsWith('.ts'));
    expect(stray).toEqual([]);
    const top = new Set(files.map((f) => (f.includes('/') ? f.slice(0, f.indexOf('/')) : f)));
    for (const t of top) expect(['bin', 'dist', 'query', 'samples', 'docs', 'package.json', 'README.md', 'LICENSE', 'CHANGELOG.md']).toContain(t);
  });

  it('installs into an empty folder offline, with the runtime dependencies only', () => {
    const why = "npm ci --offline in the empty folder (npm's cache must hold package-lock.json's tarballs, as it does after `npm ci` in the repository)";
    expect(install.stderr, why).toBe('');
    expect(install.code, why).toBe(0);
    expect(existsSync(join(app, 'node_modules', PKG.name, 'dist/cli/main.js'))).toBe(true);
    expect(existsSync(join(app, 'node_modules/@duckdb/node-api'))).toBe(true);
    for (const dev of ['dt-sql-parser', 'vitest', 'typescript']) expect(existsSync(join(app, 'node_modules', dev))).toBe(false);
  });

  const s3sift = (args: string[]) => {
    const r = spawnSync(join(app, 'node_modules/.bin/s3sift'), args, { cwd: app, encoding: 'utf8' });
    return { code: r.status, stdout: r.stdout, stderr: r.stderr };
  };

  it('answers --help and --version from the installed package', () => {
    const help = s3sift(['--help']);
    expect(help.stderr).toBe('');
    expect(help.code).toBe(0);
    for (const cmd of ['ingest', 'analyze', 'detect', 'query', 'detections', 'posture', 'serve', 'athena', 'publish']) expect(help.stdout).toMatch(new RegExp(`^  ${cmd}\\s`, 'm'));
    const version = s3sift(['--version']);
    expect(version.code).toBe(0);
    expect(version.stdout.trim()).toBe(PKG.version);
  });

  it('ingests a sample and runs the detection library from the installed package', () => {
    const data = join(tmp.dir, 'd');
    const ingest = s3sift(['ingest', SAMPLE, '--data', data]);
    expect(ingest.stderr).toBe('');
    expect(ingest.code).toBe(0);
    expect(ingest.stdout).toMatch(/access_log: \d+ rows/);
    const detect = s3sift(['detect', '--data', data, '--format', 'ndjson']);
    // Access logs only: the CloudTrail detections say, in one line on stderr, that they checked nothing.
    expect(detect.stderr).toMatch(/^not checked: \d+ detections could not judge some of the data \(access-log-self-delivery, .*\); --format json or table says what and why\n$/);
    expect(detect.code).toBe(0);
    const findings = detect.stdout.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as { detection_id?: string });
    expect(findings.length).toBeGreaterThan(0);
    for (const f of findings) expect(f.detection_id).toMatch(/^[a-z0-9-]+$/);
  });
});
