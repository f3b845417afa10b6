import { UsageError } from '../../common/errors.js';
import { defineCommand, defineGroup, EXIT } from '../command.js';
import { integer, text } from '../flags.js';

const SOURCES = ['tor', 'aws'] as const;

const fetchCommand = defineCommand({
  name: 'fetch',
  summary: "download Tor's exit list or AWS's address ranges as an --intel list",
  usage: 'tor|aws --out FILE [options]',
  description: `
Download a public list and write it where --intel reads it (detect, analyze,
serve). s3sift ships no list: one that is not fresh misses new addresses and
blames old ones, so fetch it again before each run (a cron job, a CI step).

  tor   https://check.torproject.org/torbulkexitlist: the addresses Tor exit
        nodes were seen using. Written as CSV labelled "Tor exit node", kind
        alarm: a request from one is a finding (threat-intel-address).
  aws   https://ip-ranges.amazonaws.com/ip-ranges.json: AWS's public address
        ranges, by service and region. Written as CSV labelled "AWS EC2
        us-east-1" and so on, kind label: it never raises a finding by itself;
        a finding from another list names the AWS range the address is in.

The content is checked before anything is written (an HTML error page or a
truncated body is refused), and the file is replaced whole (a temporary file,
then a rename): a failed fetch leaves the old list as it was. Where this
machine cannot reach the Internet, point --url at a mirror it can reach,
or download the list elsewhere and convert it by hand (docs/intel.md).`,
  flags: {
    out: text({ value: 'FILE', help: 'where to write the list (replaced whole)' }),
    url: text({ value: 'URL', help: 'download from URL instead (a mirror, a proxy of your own)' }),
    'timeout-ms': integer({ help: 'give up after this long', min: 100, max: 600_000, default: 30_000 }),
  },
  notes: 'Exit codes: 0 written, 2 bad arguments, a failed download (the URL and the HTTP\nstatus are named) or content that is not the list.',
  examples: [
    's3sift intel fetch tor --out tor-exits.csv',
    's3sift intel fetch aws --out aws-ranges.csv',
    's3sift detect --intel tor-exits.csv --intel aws-ranges.csv',
  ],
  async run({ flags: f, positionals }, io) {
    const [source, ...rest] = positionals;
    if (source === undefined || !(SOURCES as readonly string[]).includes(source) || rest.length) {
      throw new UsageError(`intel fetch takes one of ${SOURCES.join(', ')} (got ${positionals.join(' ') || 'nothing'})`);
    }
    if (f.out === undefined) throw new UsageError('intel fetch needs --out FILE (where to write the list)');
    const { fetchIntel, INTEL_SOURCES } = await import('../../query/intel-fetch.js');
    const s = source as keyof typeof INTEL_SOURCES;
    const n = await fetchIntel(s, f.out, { url: f.url, timeoutMs: f['timeout-ms'] });
    io.stderr.line(`wrote ${n.toLocaleString('en-US')} entries of ${INTEL_SOURCES[s].what} to ${f.out}`);
    return EXIT.ok;
  },
});

const checkCommand = defineCommand({
  name: 'check',
  summary: 'read lists as --intel would and say what they hold',
  usage: 'FILE... [options]',
  description: `
Read each FILE as --intel reads it and print, one line a list, how many
entries it holds (IPv4 and IPv6, of kind alarm and label) and its labels. A
line that is not an address or CIDR stops with exit 2, naming file:line and
why, as detect would: check a list you wrote or converted before a run
depends on it.`,
  flags: {},
  notes: 'Exit codes: 0 every list read, 2 a file that cannot be read or a bad line.',
  examples: ['s3sift intel check tor-exits.csv my-blocklist.txt'],
  async run({ positionals }, io) {
    if (positionals.length === 0) throw new UsageError('intel check needs at least one FILE (a list of addresses and CIDRs)');
    const { loadIntelFiles } = await import('../../query/intel-load.js');
    const set = await loadIntelFiles(positionals);
    for (const l of set.lists) {
      const count = (p: (e: (typeof l.entries)[number]) => boolean): string => l.entries.filter(p).length.toLocaleString('en-US');
      const labels = [...new Set(l.entries.map((e) => e.label))].sort();
      const shown = labels.length > 5 ? `${labels.slice(0, 5).join(', ')}, ... (${labels.length} labels)` : labels.join(', ');
      io.stdout.line(`${l.file}: ${count(() => true)} entries (IPv4 ${count((e) => e.family === 4)}, IPv6 ${count((e) => e.family === 6)}; alarm ${count((e) => e.kind === 'alarm')}, label ${count((e) => e.kind === 'label')}); labels: ${shown}`);
    }
    return EXIT.ok;
  },
});

export const intelCommand = defineGroup({
  name: 'intel',
  summary: 'threat-intel lists for --intel: fetch Tor exit nodes, AWS ranges',
  description: `
--intel FILE (on detect, analyze and serve; repeatable) loads lists of
addresses and networks, and the detection threat-intel-address reports
requests from them with the list's label. A list is plain text (one IPv4 or
IPv6 address or CIDR a line, # comments) or CSV with a header naming an
address column (ip, address, cidr, network, prefix, ...), and optionally
label and kind (alarm: requests from it are findings, the default; label: it
only names addresses). Plain lists take the file's name as their label.
Without --intel the detection checks nothing and says so (NOT CHECKED).
Formats and sources: docs/intel.md.`,
  subcommands: [fetchCommand, checkCommand],
});
