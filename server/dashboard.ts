/**
 * The built-in dashboard page (`GET /`): saved queries drawn with Chart.js,
 * served by the app itself from the npm package (no CDN). Filters by time
 * range and bucket go to every saved query as parameters.
 */
export function dashboardHtml(): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>s3sift</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
  body { font: 14px system-ui, sans-serif; margin: 0; background: #f6f7f9; color: #1d2330; }
  header { padding: 12px 20px; background: #1d2330; color: #fff; display: flex; gap: 16px; align-items: center; flex-wrap: wrap; }
  header h1 { font-size: 18px; margin: 0 12px 0 0; }
  header label { font-size: 13px; }
  main { display: grid; grid-template-columns: repeat(auto-fill, minmax(420px, 1fr)); gap: 16px; padding: 16px; }
  section { background: #fff; border-radius: 6px; padding: 12px; box-shadow: 0 1px 2px #0002; }
  section h2 { font-size: 14px; margin: 0 0 8px; }
  .err { color: #b00020; }
  #posture-section, #findings-section { grid-column: 1 / -1; }
  table { border-collapse: collapse; width: 100%; font-size: 13px; margin-bottom: 12px; }
  th, td { text-align: left; padding: 3px 8px; border-bottom: 1px solid #e3e6ea; vertical-align: top; }
  td.unknown { color: #8a93a3; font-style: italic; }
  tr.open td { background: #fdecea; }
  p.deleted { color: #b00020; font-weight: 600; }
</style></head>
<body>
<header><h1>s3sift</h1>
  <label>since <input type="datetime-local" id="since"></label>
  <label>until <input type="datetime-local" id="until"></label>
  <label>bucket <select id="bucket"><option value="">all</option></select></label>
  <button id="apply">apply</button> <span id="status"></span>
</header>
<main>
  <section><h2>Findings over time, by severity</h2><canvas id="findings_over_time"></canvas></section>
  <section><h2>Top detections</h2><canvas id="top_detections"></canvas></section>
  <section><h2>Top principals</h2><canvas id="top_principals"></canvas></section>
  <section><h2>Top addresses</h2><canvas id="top_addresses"></canvas></section>
  <section><h2>Requests by TLS version</h2><canvas id="tls_versions"></canvas></section>
  <section><h2>Requests by signature version</h2><canvas id="signature_versions"></canvas></section>
  <section><h2>Pre-signed URL use</h2><canvas id="presigned_use"></canvas></section>
  <section id="findings-section"><h2>Findings not resolved (status from 's3sift findings'; newest 50, filtered by the server)</h2><div id="findings"></div></section>
  <section id="posture-section"><h2>Bucket posture (at the end of the time range; settings read from CloudTrail, unknown when never set in the logs)</h2><div id="posture"></div></section>
</main>
<script src="/assets/chart.umd.js"></script>
<script>
const SEV = { info: '#8fa3b8', low: '#4c9be8', medium: '#f2b134', high: '#e8743b', critical: '#c0392b' };
const charts = {};
const token = new URLSearchParams(location.hash.slice(1)).get('token');
async function q(name, extra = {}) {
  const p = new URLSearchParams();
  for (const id of ['since', 'until']) { const v = document.getElementById(id).value; if (v) p.set(id, new Date(v + 'Z').toISOString()); }
  const b = document.getElementById('bucket').value; if (b && name !== 'buckets') p.set('bucket', b);
  for (const [k, v] of Object.entries(extra)) p.set(k, v);
  if (name === 'buckets') p.delete('since'), p.delete('until');
  const r = await fetch('/api/queries/' + name + '?' + p, { headers: token ? { authorization: 'Bearer ' + token } : {} });
  const j = await r.json();
  if (!j.ok) throw new Error(name + ': ' + j.error);
  return j.rows;
}
function draw(id, config) {
  charts[id]?.destroy();
  charts[id] = new Chart(document.getElementById(id), config);
  document.getElementById(id).dataset.points = String(config.data.datasets.reduce((n, d) => n + d.data.length, 0));
}
const bar = (id, rows, label, value, horizontal = true) => draw(id, { type: 'bar', data: { labels: rows.map((r) => r[label]), datasets: [{ label: value, data: rows.map((r) => r[value]), backgroundColor: '#4c9be8' }] }, options: { indexAxis: horizontal ? 'y' : 'x', plugins: { legend: { display: false } } } });
const pie = (id, rows, label) => draw(id, { type: 'doughnut', data: { labels: rows.map((r) => r[label]), datasets: [{ data: rows.map((r) => r.requests) }] } });
// A day as the charts label it: a finding or request without a time is a fact about that record, drawn as "no time".
const day = (t) => (typeof t === 'string' && t.length >= 10 ? t.slice(0, 10) : 'no time');
// Each chart draws on its own: one that fails says so in its panel, and the others still draw.
async function panel(id, drawIt) {
  const el = document.getElementById(id);
  el.parentElement.querySelector('p.err')?.remove();
  try { await drawIt(); return true; } catch (e) {
    const p = document.createElement('p'); p.className = 'err'; p.textContent = e.message; el.after(p);
    return false;
  }
}
async function load() {
  const status = document.getElementById('status');
  status.textContent = 'loading…'; status.className = '';
  const done = await Promise.all([
    panel('findings_over_time', async () => {
      const f = (await q('findings_over_time')).map((r) => ({ ...r, day: day(r.day) }));
      const days = [...new Set(f.map((r) => r.day))];
      draw('findings_over_time', { type: 'bar', data: { labels: days, datasets: Object.keys(SEV).map((s) => ({ label: s, backgroundColor: SEV[s], data: days.map((d) => f.filter((r) => r.severity === s && r.day === d).reduce((n, r) => n + (Number(r.findings) || 0), 0)) })).filter((d) => d.data.some((x) => x > 0)) }, options: { scales: { x: { stacked: true }, y: { stacked: true } } } });
    }),
    panel('top_detections', async () => bar('top_detections', await q('top_detections'), 'detection_id', 'findings')),
    panel('top_principals', async () => bar('top_principals', await q('top_principals'), 'principal', 'requests')),
    panel('top_addresses', async () => bar('top_addresses', await q('top_addresses'), 'source_ip', 'requests')),
    panel('tls_versions', async () => pie('tls_versions', await q('tls_versions'), 'tls_version')),
    panel('signature_versions', async () => pie('signature_versions', await q('signature_versions'), 'signature_version')),
    panel('presigned_use', async () => bar('presigned_use', (await q('presigned_use')).map((r) => ({ ...r, day: day(r.day) })), 'day', 'requests', false)),
    panel('posture', posture),
    panel('findings', findingsTable),
  ]);
  const failed = done.filter((ok) => !ok).length;
  status.textContent = failed ? failed + ' panel(s) could not be drawn' : 'ready';
  status.className = failed ? 'err' : '';
  document.body.dataset.ready = 'true';
}
const esc = (x) => String(x ?? '').replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]);
// Each finding with its status (open, acknowledged; resolved ones left out), newest first.
async function findingsTable() {
  const p = new URLSearchParams();
  for (const id of ['since', 'until']) { const v = document.getElementById(id).value; if (v) p.set(id, new Date(v + 'Z').toISOString()); }
  // The server filters and sorts (newest first): filtering its first page here would miss what is on the next ones.
  const b = document.getElementById('bucket').value; if (b) p.set('bucket', b);
  p.set('status', 'open,acknowledged');
  const r = await fetch('/api/findings?' + p, { headers: token ? { authorization: 'Bearer ' + token } : {} });
  const j = await r.json();
  if (!j.ok) throw new Error('findings: ' + j.error);
  const rows = j.rows.slice(0, 50);
  document.getElementById('findings').innerHTML = (rows.length < j.total ? '<p class="more">the newest ' + esc(rows.length) + ' of ' + esc(j.total) + '</p>' : '') + (rows.length ? '<table class="findings"><tr><th>status</th><th>severity</th><th>detection</th><th>time</th><th>bucket</th><th>principal</th><th>finding_id</th></tr>' +
    rows.map((f) => '<tr><td>' + esc(f.status ?? 'unknown') + (f.status_by ? ' (' + esc(f.status_by) + ': ' + esc(f.status_reason) + ')' : '') + '</td><td>' + esc(f.severity) + '</td><td>' + esc(f.detection_id) + '</td><td>' + esc(f.event_time) + '</td><td>' + esc(f.bucket) + '</td><td>' + esc(f.principal) + '</td><td>' + esc(f.finding_id) + '</td></tr>').join('') + '</table>'
    : '<p>no finding to act on</p>');
}
async function posture() {
  const p = new URLSearchParams();
  const until = document.getElementById('until').value; if (until) p.set('at', new Date(until + 'Z').toISOString());
  const b = document.getElementById('bucket').value; if (b) p.set('bucket', b);
  const r = await fetch('/api/posture?' + p, { headers: token ? { authorization: 'Bearer ' + token } : {} });
  const j = await r.json();
  if (!j.ok) throw new Error('posture: ' + j.error);
  const buckets = [...new Set(j.rows.map((x) => x.bucket))];
  document.getElementById('posture').innerHTML = buckets.map((bucket) => {
    const rows = j.rows.filter((x) => x.bucket === bucket).map((x) => '<tr><td>' + esc(x.setting) + '</td>' + (x.known ? '<td>' + esc(x.value) + '</td><td>' + esc(x.since) + '</td><td>' + esc(x.by) + '</td>' : '<td class="unknown" colspan="3">unknown</td>') + '</tr>').join('');
    const wins = j.windows.filter((w) => w.bucket === bucket).map((w) => '<tr class="' + (w.until ? '' : 'open') + '"><td>' + esc(w.life) + '</td><td>' + esc(w.exposure) + '</td><td>' + esc(w.from) + '</td><td>' + esc(w.until ?? 'still open') + '</td><td>' + esc(w.requests) + '</td><td>' + esc(w.opened_by) + '</td><td>' + esc(w.closed_by) + '</td></tr>').join('');
    // A bucket deleted (and perhaps created again): its lives, and whether it exists at all.
    const lives = (j.lives ?? []).filter((l) => l.bucket === bucket);
    const who = (x) => x ? esc(x.principal ?? 'unknown') + (x.source_ip ? ' from ' + esc(x.source_ip) : '') : '';
    const last = lives[lives.length - 1];
    const deleted = last && last.deleted ? '<p class="deleted" data-bucket="' + esc(bucket) + '">deleted at ' + esc(last.deleted.time) + ' by ' + who(last.deleted) + ': the settings below are as they were then</p>' : '';
    const livesTable = lives.length > 1 || lives.some((l) => l.created || l.deleted)
      ? '<table class="lives"><tr><th>life</th><th>from</th><th>until</th><th>created by</th><th>deleted by</th><th>account</th></tr>' + lives.map((l) => '<tr><td>' + esc(l.life) + '</td><td>' + esc(l.from) + '</td><td>' + esc(l.until ?? 'exists') + '</td><td>' + (l.created ? who(l.created) : 'not in these logs') + '</td><td>' + who(l.deleted) + '</td><td>' + esc(l.account ?? 'unknown') + (l.previous_account ? ' (life ' + esc(l.life - 1) + ': ' + esc(l.previous_account) + ')' : '') + (l.after_deletion.length ? '; ' + esc(l.after_deletion.length) + ' call(s) after the delete, not applied' : '') + '</td></tr>').join('') + '</table>'
      : '';
    return '<h3>' + esc(bucket) + (deleted ? ' (deleted)' : '') + '</h3>' + deleted + livesTable + '<table class="settings" data-bucket="' + esc(bucket) + '"><tr><th>setting</th><th>value</th><th>since</th><th>by</th></tr>' + rows + '</table>' +
      (wins ? '<table class="windows"><tr><th>life</th><th>exposure</th><th>from</th><th>until</th><th>requests</th><th>opened by</th><th>closed by</th></tr>' + wins + '</table>' : '<p>no exposure window seen</p>');
  }).join('') || '<p>no bucket settings in the logs</p>';
}
(async () => {
  try { for (const b of await q('buckets')) document.getElementById('bucket').add(new Option(b.bucket, b.bucket)); } catch (e) {}
  document.getElementById('apply').onclick = load;
  load();
})();
</script></body></html>`;
}
