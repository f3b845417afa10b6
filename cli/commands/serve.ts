import { UsageError } from '../../common/errors.js';
import { ALLOWED_HOSTS, SETTINGS, type Setting } from '../../server/settings.js';
import { defineCommand, EXIT } from '../command.js';
import { dataFlag, intelFlag, loadIntelFlag } from '../common-flags.js';
import { integer, repeated, text, type Flag } from '../flags.js';
import { configFlag } from '../config.js';

const setting = (s: Setting): Flag<number> => integer({ help: s.help, min: s.min, max: s.max, default: s.default });

export const serveCommand = defineCommand({
  name: 'serve',
  summary: 'the HTTP API and the dashboard page',
  usage: '[options]',
  description: `
Serve the dataset over HTTP for dashboards, notebooks and scripts, with a
built-in dashboard page at /. Routes (JSON envelope {"ok":true,"columns","rows",
"truncated"}; Accept: text/csv, application/x-ndjson or
application/vnd.apache.arrow.stream for the other formats):

  GET  /health                         {"ok":true}
  GET  /api/tables                     tables, columns, types, row counts
  GET  /api/detections                 the detection library
  GET  /api/findings?detection=&since=&until=&severity=&bucket=&principal=
       &source_ip=&status=&q=&sort=&order=&limit=&offset=
                                       findings, a page at a time (total,
                                       more, next_offset; x-total-count, link)
  GET  /api/findings/ID                one finding's evidence: its records in
                                       both tables, their original lines, the
                                       bucket's posture then
  GET  /api/pivot?kind=principal|source_ip|bucket|key&value=&bucket=&since=&until=&bin_minutes=
                                       activity over time, tops, findings
  POST /api/query  {"sql": "SELECT ...", "params": {...}}   one read-only SELECT
  GET  /api/queries, /api/queries/NAME?since=&until=&bucket=&bin_minutes=
                                       saved queries
  GET  /api/posture?bucket=&at=        bucket posture

User SQL runs in a sandbox: one SELECT over the tables, no other file,
network, extension or settings access, a time limit (preparing included; then
408) and row and byte caps. POST /api/query takes Content-Type:
application/json only (else 415). A request whose Host is not this server's
address (or an --allowed-host name) is refused (421, against DNS rebinding),
and a POST another site's page sends is refused (403).

The config file (--config, else ./s3sift.yaml, else s3sift.yaml in the
--data folder; docs/config.md) applies as detect applies it: its accounts,
params and intel lists reach the detections, and /api/findings leaves out
what its suppress rules silence, counted in the x-suppressed header and in
JSON's "suppressed".

With a token, every route but /health, the page / and its /assets/* needs
Authorization: Bearer T. Give the token in S3SIFT_TOKEN rather than
--token: other users of the machine can read a command line (ps), not your
environment. A port in use, an address not of this machine or a port that
needs privileges: one line saying so, exit 2.
Details: docs/http-api.md.`,
  flags: {
    data: dataFlag,
    host: text({ value: 'H', help: 'address to bind (another than loopback needs --token)', default: '127.0.0.1' }),
    port: integer({ help: 'port (0 picks a free one)', min: 0, max: 65535, default: 8080 }),
    token: text({ value: 'T', help: 'require Authorization: Bearer T; prefer S3SIFT_TOKEN=T in the environment (ps shows a command line to every user)' }),
    'allowed-host': repeated({ value: 'NAME', help: ALLOWED_HOSTS.help }),
    'timeout-ms': setting(SETTINGS.timeoutMs),
    'row-cap': setting(SETTINGS.rowCap),
    'byte-cap': setting(SETTINGS.byteCap),
    'max-concurrent': setting(SETTINGS.maxConcurrent),
    'max-queued': setting(SETTINGS.maxQueued),
    'memory-limit-mb': setting(SETTINGS.memoryLimitMb),
    intel: intelFlag,
    config: configFlag,
  },
  examples: [
    's3sift serve',
    'S3SIFT_TOKEN=s3cret s3sift serve --host 0.0.0.0 --port 8443 --allowed-host s3sift.example.com',
    `curl -s localhost:8080/api/query -H 'content-type: application/json' -d '{"sql":"SELECT count(*) FROM s3_requests"}'`,
  ],
  async run({ flags: f, positionals }, io) {
    if (positionals.length) throw new UsageError(`serve takes no arguments (got ${positionals.join(' ')})`);
    // The config (s3sift.yaml): its params and intel lists as detect takes them; /api/findings applies its suppress rules.
    const [{ serve }, { loadDetections }, { loadConfigFlag }] = await Promise.all([import('../../server/serve.js'), import('../../query/detection.js'), import('../config.js')]);
    const library = await loadDetections([]);
    const config = await loadConfigFlag({ config: f.config, data: f.data, param: {}, intel: f.intel }, { all: library, selected: library }, io);
    const intel = await loadIntelFlag(config.intel, io);
    // A rule past its until date silences nothing: say so, as detect does.
    const { expiryLines, suppressor } = await import('../../query/suppress.js');
    for (const line of expiryLines(suppressor(config.suppress).suppression)) io.stderr.line(line);
    const s = await serve({
      data: f.data, host: f.host, port: f.port, token: f.token ?? io.env.S3SIFT_TOKEN, allowedHosts: f['allowed-host'],
      timeoutMs: f['timeout-ms'], rowCap: f['row-cap'], byteCap: f['byte-cap'], maxConcurrent: f['max-concurrent'], maxQueued: f['max-queued'], memoryLimitMb: f['memory-limit-mb'], intel, overrides: config.overrides, suppress: config.suppress,
      workerThreads: Number(io.env.UV_THREADPOOL_SIZE) || 4,
    });
    io.stderr.write(`s3sift serving ${f.data} at ${s.url}/ (Ctrl-C to stop)\n`);
    await new Promise<void>((resolve) => {
      const stop = (): void => {
        void s.close().then(resolve);
      };
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
    });
    return EXIT.ok;
  },
});
