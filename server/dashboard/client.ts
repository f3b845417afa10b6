/**
 * The dashboard's script (plain browser JavaScript, served inline by
 * `GET /`). Rules it keeps, because every value it shows comes from the logs:
 * data reaches the page only as text nodes and attribute values (the `el`
 * helper; never innerHTML), and links built from data go through
 * encodeURIComponent. The view (filters, the finding or pivot shown) lives in
 * location.hash, so reload, back/forward and a shared link give the same view.
 * Written without backticks or dollar-brace so it can sit in a template string.
 */
export const DASHBOARD_SCRIPT = String.raw`
'use strict';
const SEV = { info: '#8fa3b8', low: '#4c9be8', medium: '#f2b134', high: '#e8743b', critical: '#c0392b' };
const SEVERITIES = Object.keys(SEV);
const SOURCE_COLOR = { access_log: '#4c9be8', cloudtrail: '#8e5bd0' };
const TOKEN_KEY = 's3sift.token';
const PAGE = 100; // rows a page by default; #limit=N in the address sets it
const BINS = [1, 5, 15, 60, 360, 1440];
const MAX_BARS = 5000; // bins a timeline draws at most; a wider range gets wider bins
const SORTABLE = ['event_time', 'last_time', 'severity', 'detection_id', 'bucket', 'principal', 'count'];
const LIST_KEYS = ['since', 'until', 'bucket', 'severity', 'detection', 'principal', 'source_ip', 'status', 'sort', 'order', 'offset', 'limit'];
const charts = {};
let queries = null;   // saved query name -> its parameter names (GET /api/queries)
let detections = [];
let listKey = null;   // the list parameters the list on screen was drawn for
let listScroll = 0;
let renderSeq = 0;

const $ = (id) => document.getElementById(id);
/** An element with attributes and children; strings become text nodes (never markup). */
function el(tag, attrs, ...kids) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k === 'text') e.textContent = String(v);
    else if (k === 'class') e.className = v;
    else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, String(v));
  }
  for (const kid of kids.flat()) if (kid !== null && kid !== undefined) e.append(kid instanceof Node ? kid : String(kid));
  return e;
}
/** A long value shortened in the middle for display (an ARN keeps its account start and its role end). */
function short(v, n) {
  const s = String(v ?? '');
  n = n || 44;
  if (s.length <= n) return s;
  const head = Math.ceil((n - 1) * 0.4);
  return s.slice(0, head) + '\u2026' + s.slice(s.length - (n - 1 - head));
}
/** A time to the minute (UTC); of a time the same day as another, only the hour. */
function whenShort(t, sameDayAs) {
  const s = String(t).replace('T', ' ').slice(0, 16);
  return sameDayAs && String(sameDayAs).slice(0, 10) === String(t).slice(0, 10) ? s.slice(11) : s;
}
/** A value shown shortened, the full value on hover. */
const shortText = (v, n) => el('span', { class: 'v', title: String(v ?? ''), text: short(v, n) });
const fmt = (n) => Number(n).toLocaleString('en-US');
const hashOf = (o) => '#' + Object.entries(o).filter(([, v]) => v !== null && v !== undefined && v !== '').map(([k, v]) => k + '=' + encodeURIComponent(String(v))).join('&');
function pivotHref(kind, value, bucket) {
  const s = state();
  return hashOf({ view: 'pivot', kind, value, pbucket: kind === 'key' ? bucket : null, since: s.get('since'), until: s.get('until'), bucket: s.get('bucket') });
}
/** A value that opens its pivot page (principal, address, bucket, key); none: a dash. */
function pivotLink(kind, value, bucket, n) {
  if (value === null || value === undefined || value === '') return el('span', { class: 'none', text: kind === 'principal' ? 'anonymous' : '\u2013' });
  if (kind === 'key' && !bucket) return shortText(value, n);
  return el('a', { class: 'pivot', href: pivotHref(kind, value, bucket), title: String(value), 'data-kind': kind }, short(value, n));
}
const findingHref = (id) => { const s = state(); s.set('view', 'finding'); s.set('id', id); return '#' + s.toString(); };

// ---- the view in the URL ----
function state() { return new URLSearchParams(location.hash.slice(1)); }
/** Change the view: a new history entry (back returns), unless replace. */
function go(changes, replace) {
  const s = state();
  for (const [k, v] of Object.entries(changes)) { if (v === null || v === undefined || v === '') s.delete(k); else s.set(k, String(v)); }
  const h = '#' + s.toString();
  // Not ready from now: hashchange comes a task later, and the view must not look drawn until then.
  document.body.dataset.ready = 'false';
  if (h === location.hash) return render();
  if (replace) { history.replaceState(null, '', h); render(); } else location.hash = h;
}

// ---- the token ----
let tokenWaiter = null;
let tokenGiven = null; // resolves tokenWaiter: the prompt answered, or a token came in the address
const token = () => sessionStorage.getItem(TOKEN_KEY);
/** Keep a token for the tab, and let the requests waiting for one go on. */
function useToken(t) {
  sessionStorage.setItem(TOKEN_KEY, t);
  $('token-box').hidden = true;
  showForget();
  if (tokenGiven) { document.body.dataset.token = 'given'; tokenWaiter = null; const resume = tokenGiven; tokenGiven = null; resume(); }
}
/**
 * The old way in: #token=T in the address, on load or pasted into an open page (hashchange). Kept as a way in:
 * stored, then taken out of the address at once (never carried into the links the page makes from its address).
 */
function tokenFromAddress() {
  const h = state();
  if (!h.get('token')) return;
  const t = h.get('token');
  h.delete('token');
  history.replaceState(null, '', '#' + h.toString());
  useToken(t);
}
function askToken(message) {
  tokenWaiter ??= new Promise((resolve) => {
    tokenGiven = resolve;
    const box = $('token-box');
    $('token-message').textContent = message;
    box.hidden = false;
    document.body.dataset.token = 'asked';
    $('token-input').focus();
    $('token-form').onsubmit = (ev) => {
      ev.preventDefault();
      const t = $('token-input').value.trim();
      if (!t) return;
      $('token-input').value = '';
      useToken(t);
    };
  });
  return tokenWaiter;
}
function showForget() { $('forget').hidden = !token(); }
/** GET an API path as JSON; a 401 asks for the token (once for all requests waiting) and tries again. */
async function api(path, params) {
  const qs = params ? params.toString() : '';
  for (;;) {
    const used = token();
    const r = await fetch(path + (qs ? '?' + qs : ''), { headers: used ? { authorization: 'Bearer ' + used } : {} });
    if (r.status === 401) {
      // Another request already stored a newer token: try with it before asking again.
      if (token() !== used) continue;
      await askToken(used ? 'The server refused that token. Check it (s3sift serve --token) and try again.' : 'This server needs its access token (the --token or S3SIFT_TOKEN it was started with).');
      continue;
    }
    let j;
    try { j = await r.json(); } catch { throw Object.assign(new Error(path + ': HTTP ' + r.status + ', not JSON'), { status: r.status }); }
    if (!j.ok) throw Object.assign(new Error(j.error || 'HTTP ' + r.status), { status: r.status });
    return j;
  }
}

// ---- time bins and the brush ----
const iso = (ms) => new Date(ms).toISOString().replace('.000Z', 'Z');
function binFor(ms) {
  const minutes = ms / 60000;
  return BINS.find((b) => minutes / b <= 150) ?? 1440;
}
function binLabel(ms, bin) {
  const s = iso(ms);
  return bin >= 1440 ? s.slice(0, 10) : s.slice(5, 16).replace('T', ' ');
}
/** The range shown: since/until from the URL, as milliseconds (null: open). */
function range() {
  const s = state();
  const t = (k) => { const v = s.get(k); const ms = v ? Date.parse(v) : NaN; return Number.isNaN(ms) ? null : ms; };
  return { since: t('since'), until: t('until') };
}
/** The bin size to ask a saved query for: from the range when it is closed, else the server's choice. */
function askedBin() { const r = range(); return r.since !== null && r.until !== null ? binFor(r.until - r.since) : null; }
/**
 * Rows of {time|day, ...} as evenly spaced bins (empty ones at zero, so the
 * axis is time), plus a last "no time" bin for records without one.
 */
function bins(rows, bin, key) {
  const timeOf = (r) => { const v = r.time ?? r.day ?? r.bin; const ms = v ? Date.parse(v) : NaN; return Number.isNaN(ms) ? null : ms; };
  const times = rows.map(timeOf).filter((t) => t !== null);
  bin = bin || Number(rows.find((r) => r.bin_minutes)?.bin_minutes) || null;
  if (!bin) {
    // The server chose: the smallest gap between bins (one bin: a day, the old default).
    const u = [...new Set(times)].sort((a, b) => a - b);
    let gap = Infinity;
    for (let i = 1; i < u.length; i++) gap = Math.min(gap, u[i] - u[i - 1]);
    bin = Number.isFinite(gap) ? BINS.slice().reverse().find((b) => gap >= b * 60000) ?? 1 : 1440;
  }
  const r = range();
  let lo = times.length ? Math.min(...times) : r.since;
  let hi = times.length ? Math.max(...times) : r.until;
  if (r.since !== null) lo = Math.min(lo ?? r.since, r.since);
  if (r.until !== null) hi = Math.max(hi ?? r.until, r.until - 1);
  // More bins than the page draws (a range of decades): wider ones, each the sum of whole bins of the
  // answer (bins start at multiples of their width), so no row falls outside the axis.
  if (lo !== null && hi !== null && (hi - lo) / (bin * 60000) > MAX_BARS - 2) bin *= Math.ceil((hi - lo) / (bin * 60000) / (MAX_BARS - 2));
  const step = bin * 60000;
  const starts = [];
  if (lo !== null && hi !== null) {
    lo = Math.floor(lo / step) * step;
    for (let t = lo; t <= hi; t += step) starts.push(t);
  }
  const index = new Map(starts.map((t, i) => [t, i]));
  const untimed = rows.some((x) => timeOf(x) === null);
  const labels = starts.map((t) => binLabel(t, bin)).concat(untimed ? ['no time'] : []);
  const slot = (x) => { const t = timeOf(x); if (t === null) return starts.length; return index.get(Math.floor(t / step) * step) ?? index.get(t) ?? -1; };
  const series = (pick) => {
    const out = labels.map(() => 0);
    for (const x of rows) { const i = slot(x); if (i >= 0 && pick(x)) out[i] += Number(x[key]) || 0; }
    return out;
  };
  return { bin, starts, labels, series };
}
/** Drag across a time chart to zoom: the bins under the drag become since/until. */
function brush(id, get) {
  const canvas = $(id);
  const box = canvas.parentElement;
  const band = box.querySelector('.brush') || box.appendChild(el('div', { class: 'brush', hidden: true }));
  let x0 = null;
  const px = (ev) => ev.clientX - canvas.getBoundingClientRect().left;
  canvas.onmousedown = (ev) => { x0 = px(ev); band.hidden = false; band.style.left = x0 + 'px'; band.style.width = '0px'; ev.preventDefault(); };
  canvas.onmousemove = (ev) => {
    if (x0 === null) return;
    const x = px(ev);
    band.style.left = Math.min(x0, x) + 'px';
    band.style.width = Math.abs(x - x0) + 'px';
  };
  canvas.onmouseup = canvas.onmouseleave = (ev) => {
    if (x0 === null) return;
    const x1 = px(ev);
    const a = Math.min(x0, x1);
    const b = Math.max(x0, x1);
    x0 = null;
    band.hidden = true;
    if (b - a < 6) return; // a click, not a drag
    const { chart, starts, bin } = get();
    if (!chart || !starts.length) return;
    const clamp = (i) => Math.max(0, Math.min(starts.length - 1, Math.round(i)));
    const i0 = clamp(chart.scales.x.getValueForPixel(a));
    const i1 = clamp(chart.scales.x.getValueForPixel(b));
    go({ since: iso(starts[i0]), until: iso(starts[i1] + bin * 60000), offset: null });
  };
}

// ---- charts ----
function draw(id, config) {
  charts[id]?.destroy();
  const canvas = $(id);
  config.options = Object.assign({ responsive: true, maintainAspectRatio: false, animation: false }, config.options);
  charts[id] = new Chart(canvas, config);
  canvas.dataset.points = String(config.data.datasets.reduce((n, d) => n + d.data.length, 0));
  return charts[id];
}
/** Bars with labels shortened in the middle (full value in the tooltip); a click opens the pivot of that value. */
function bars(id, rows, label, value, kind) {
  const full = rows.map((r) => String(r[label] ?? 'none'));
  draw(id, {
    type: 'bar',
    data: { labels: full, datasets: [{ label: value, data: rows.map((r) => Number(r[value]) || 0), backgroundColor: '#4c9be8' }] },
    options: {
      indexAxis: 'y',
      plugins: { legend: { display: false }, tooltip: { callbacks: { title: (items) => full[items[0].dataIndex] } } },
      scales: { y: { ticks: { autoSkip: false, callback: (v, i) => short(full[i], 34) } } },
      onClick: kind ? (ev, els) => { if (els.length && full[els[0].index] !== 'anonymous') location.hash = pivotHref(kind, full[els[0].index]); } : undefined,
      onHover: kind ? (ev, els) => { ev.native.target.style.cursor = els.length ? 'pointer' : 'default'; } : undefined,
    },
  });
}
const pie = (id, rows, label) => draw(id, { type: 'doughnut', data: { labels: rows.map((r) => r[label]), datasets: [{ data: rows.map((r) => Number(r.requests) || 0) }] }, options: { plugins: { legend: { position: 'right' } } } });
/** A stacked time chart of binned rows, with the brush. */
function timeChart(id, rows, bin, key, groupKey, groups, colors) {
  const b = bins(rows, bin, key);
  const datasets = groups.map((g) => ({ label: g, backgroundColor: colors[g] || '#8fa3b8', data: b.series((r) => !groupKey || (r[groupKey] ?? 'none') === g), barPercentage: 1, categoryPercentage: 0.9 })).filter((d) => d.data.some((x) => x > 0));
  const chart = draw(id, {
    type: 'bar',
    data: { labels: b.labels, datasets },
    options: { scales: { x: { stacked: true, ticks: { maxRotation: 0, autoSkip: true, autoSkipPadding: 12 } }, y: { stacked: true, beginAtZero: true } }, plugins: { legend: { position: 'top' } } },
  });
  $(id).dataset.bin = String(b.bin);
  const note = $(id).closest('section').querySelector('.bin');
  if (note) note.textContent = b.bin >= 1440 ? 'bins of ' + b.bin / 1440 + (b.bin > 1440 ? ' days' : ' day') : b.bin >= 60 ? 'bins of ' + b.bin / 60 + ' h' : 'bins of ' + b.bin + ' min';
  brush(id, () => ({ chart, starts: b.starts, bin: b.bin }));
}
/** A saved query with the header's filters, and bin_minutes where the query takes it. */
async function saved(name, extra) {
  const s = state();
  const p = new URLSearchParams();
  const takes = queries?.[name] ?? [];
  for (const k of ['since', 'until', 'bucket']) if (s.get(k) && takes.includes(k)) p.set(k, s.get(k));
  const bin = askedBin();
  if (bin && takes.includes('bin_minutes')) p.set('bin_minutes', String(bin));
  for (const [k, v] of Object.entries(extra || {})) p.set(k, v);
  const j = await api('/api/queries/' + encodeURIComponent(name), p);
  return { rows: j.rows, bin: p.get('bin_minutes') ? Number(p.get('bin_minutes')) : null };
}
/** Each panel draws on its own: one that fails says so in its panel, and the others still draw. */
async function panel(id, drawIt) {
  const target = $(id);
  const section = target.closest('section');
  section.querySelector('p.err')?.remove();
  try { await drawIt(); return true; } catch (e) {
    section.append(el('p', { class: 'err', text: e.message }));
    return false;
  }
}

// ---- the list view ----
function listParams() {
  const s = state();
  const p = new URLSearchParams();
  for (const k of ['since', 'until', 'bucket', 'severity', 'detection', 'principal', 'source_ip', 'sort', 'order']) if (s.get(k)) p.set(k, s.get(k));
  const status = s.get('status') ?? 'open,acknowledged';
  if (status !== 'any') p.set('status', status);
  p.set('limit', s.get('limit') || String(PAGE));
  p.set('offset', s.get('offset') || '0');
  return p;
}
/** The findings page: the server filters, sorts and pages (total: every finding matching, not this page's). */
async function findingsPage() {
  const j = await api('/api/findings', listParams());
  if (typeof j.total !== 'number') throw new Error('findings: this server does not page /api/findings (no total in its answer)');
  return j;
}
const FINDING_COLUMNS = [['severity', 'severity / status'], ['detection_id', 'finding (detection)'], ['event_time', 'time'], ['count', 'events'], ['bucket', 'bucket / key'], ['principal', 'principal'], ['source_ip', 'address']];
/** A findings table; sortable headers when onSort is given. */
function findingsTable(rows, opts) {
  const s = state();
  const sort = s.get('sort') || 'event_time';
  const order = s.get('order') || 'desc';
  const head = el('tr', {}, FINDING_COLUMNS.map(([k, name]) => {
    if (!opts.sortable || !SORTABLE.includes(k)) return el('th', { text: name });
    const on = sort === k;
    return el('th', { class: 'sortable' + (on ? ' sorted' : ''), 'data-sort': k, title: 'sort by ' + name,
      onclick: () => go({ sort: k, order: on && order === 'desc' ? 'asc' : 'desc', offset: null }) }, name, on ? (order === 'desc' ? ' \u25be' : ' \u25b4') : '');
  }));
  const body = rows.map((f) => el('tr', { 'data-finding': f.finding_id, class: 'sev-' + f.severity },
    el('td', {}, el('span', { class: 'sev', style: 'background:' + (SEV[f.severity] || '#888'), text: f.severity }), el('br'),
      el('span', { class: 'det status', title: f.status_by ? f.status + ' by ' + f.status_by + ': ' + (f.status_reason ?? '') : '', text: f.status ?? 'status unknown' })),
    el('td', { class: 'finding' }, el('a', { class: 'finding-link', href: findingHref(f.finding_id), title: f.title }, short(f.title, 120)), el('br'), el('span', { class: 'det', title: f.detection_id, text: short(f.detection_id, 36) })),
    el('td', { class: 'time', title: (f.event_time ?? 'no time') + (f.last_time && f.last_time !== f.event_time ? ' to ' + f.last_time : '') },
      f.event_time ? whenShort(f.event_time) : 'no time', f.last_time && f.last_time !== f.event_time ? '–' + whenShort(f.last_time, f.event_time) : ''),
    el('td', { class: 'num', text: fmt(f.count ?? 1) }),
    el('td', {}, pivotLink('bucket', f.bucket, null, 24), f.key !== null && f.key !== undefined ? [el('br'), pivotLink('key', f.key, f.bucket, 28)] : null),
    el('td', {}, pivotLink('principal', f.principal, null, 28)),
    el('td', {}, pivotLink('source_ip', f.source_ip, null, 18)),
  ));
  return el('div', { class: 'scroll' }, el('table', { class: 'findings' }, el('thead', {}, head), el('tbody', {}, body)));
}
async function renderFindings() {
  const j = await findingsPage();
  const box = $('findings');
  const from = j.rows.length ? j.offset + 1 : 0;
  const to = j.offset + j.rows.length;
  const pager = el('div', { class: 'pager' },
    el('span', { id: 'showing', 'data-total': j.total, 'data-offset': j.offset, text: j.total ? 'showing ' + fmt(from) + '\u2013' + fmt(to) + ' of ' + fmt(j.total) : 'no finding matches these filters (checked)' }),
    j.offset > 0 ? el('button', { id: 'prev', onclick: () => go({ offset: Math.max(0, j.offset - j.limit) || null }) }, '\u2039 previous') : null,
    j.more ? el('button', { id: 'next', onclick: () => go({ offset: j.next_offset }) }, 'next \u203a') : null,
    j.truncated ? el('span', { class: 'err', text: ' the answer was cut at the server\'s cap (' + (j.truncated_by ?? '') + ')' }) : null,
  );
  // What the detections could not judge: said, so that no finding never reads as checked.
  const gaps = (j.coverage ?? []).length ? el('details', { class: 'note coverage' }, el('summary', { text: 'Not everything could be checked: ' + j.coverage.length + ' coverage gap(s)' }),
    el('ul', {}, j.coverage.map((g) => el('li', { text: g.detection_id + ' (' + g.scope + '): ' + g.reason + (g.records !== undefined ? ', ' + fmt(g.records) + ' record(s)' : '') })))) : null;
  const suppressed = Number(j.suppressed?.events ?? j.suppressed?.count ?? (Array.isArray(j.suppressed) ? j.suppressed.length : 0)) || 0;
  const supp = suppressed ? el('p', { class: 'note', text: 'Suppressed by the config: ' + suppressed + ' event(s) (not listed).' }) : null;
  box.replaceChildren(...[pager, j.rows.length ? findingsTable(j.rows, { sortable: true }) : el('p', { text: 'no finding to show' }), gaps, supp].filter(Boolean));
}
function filterBar() {
  const s = state();
  const sel = (id, options, value) => {
    const x = $(id);
    if (x.options.length !== options.length) x.replaceChildren(...options.map(([v, t]) => new Option(t, v)));
    x.value = value;
  };
  sel('f-severity', [['', 'any'], ...SEVERITIES.map((v) => [v, v + ' and up'])], s.get('severity') ?? '');
  sel('f-detection', [['', 'any'], ...detections.map((d) => [d.id, d.id])], s.get('detection') ?? '');
  sel('f-status', [['open,acknowledged', 'not resolved'], ['open', 'open'], ['acknowledged', 'acknowledged'], ['resolved', 'resolved'], ['any', 'any']], s.get('status') ?? 'open,acknowledged');
  $('f-principal').value = s.get('principal') ?? '';
  $('f-source_ip').value = s.get('source_ip') ?? '';
}
async function renderList() {
  const s = state();
  const key = LIST_KEYS.map((k) => k + '=' + (s.get(k) ?? '')).join('&');
  filterBar();
  if (key === listKey) return true;
  listKey = key;
  const p = s.get('bucket');
  const done = await Promise.all([
    panel('requests_over_time', async () => {
      if (!queries.requests_over_time) throw new Error('this server has no requests_over_time query');
      const { rows, bin } = await saved('requests_over_time');
      timeChart('requests_over_time', rows, bin, 'requests', 'source', ['access_log', 'cloudtrail'], SOURCE_COLOR);
    }),
    panel('findings_over_time', async () => {
      const { rows, bin } = await saved('findings_over_time');
      timeChart('findings_over_time', rows, bin, 'findings', 'severity', SEVERITIES, SEV);
    }),
    panel('top_detections', async () => bars('top_detections', (await saved('top_detections')).rows, 'detection_id', 'findings')),
    panel('top_principals', async () => bars('top_principals', (await saved('top_principals')).rows, 'principal', 'requests', 'principal')),
    panel('top_addresses', async () => bars('top_addresses', (await saved('top_addresses')).rows, 'source_ip', 'requests', 'source_ip')),
    panel('tls_versions', async () => pie('tls_versions', (await saved('tls_versions')).rows, 'tls_version')),
    panel('signature_versions', async () => pie('signature_versions', (await saved('signature_versions')).rows, 'signature_version')),
    panel('presigned_use', async () => { const { rows, bin } = await saved('presigned_use'); timeChart('presigned_use', rows, bin, 'requests', null, ['pre-signed requests'], { 'pre-signed requests': '#4c9be8' }); }),
    panel('findings', renderFindings),
    panel('posture', () => renderPosture(p)),
  ]);
  return done.every(Boolean);
}

// ---- posture ----
function settingsTable(bucket, settings) {
  return el('table', { class: 'settings', 'data-bucket': bucket }, el('tr', {}, el('th', { text: 'setting' }), el('th', { text: 'value' }), el('th', { text: 'since' }), el('th', { text: 'by' })),
    Object.entries(settings).map(([name, st]) => el('tr', {}, el('td', { text: name }), st ? [el('td', {}, shortText(typeof st.value === 'string' ? st.value : JSON.stringify(st.value), 60)), el('td', { class: 'time', text: st.since ?? '' }), el('td', {}, pivotLink('principal', st.by, null, 36))] : el('td', { class: 'unknown', colspan: 3, text: 'unknown (never set in these logs)' }))));
}
async function renderPosture(bucket) {
  const s = state();
  const p = new URLSearchParams();
  if (s.get('until')) p.set('at', s.get('until'));
  if (bucket) p.set('bucket', bucket);
  const j = await api('/api/posture', p);
  const names = [...new Set(j.rows.map((x) => x.bucket))];
  const parts = names.map((b) => {
    const settings = Object.fromEntries(j.rows.filter((x) => x.bucket === b).map((x) => [x.setting, x.known ? { value: x.value, since: x.since, by: x.by } : null]));
    const wins = j.windows.filter((w) => w.bucket === b);
    const lives = (j.lives ?? []).filter((l) => l.bucket === b);
    const last = lives[lives.length - 1];
    const who = (x) => x ? (x.principal ?? 'unknown') + (x.source_ip ? ' from ' + x.source_ip : '') : '';
    return el('div', { class: 'bucket-posture' },
      el('h3', {}, pivotLink('bucket', b), last && last.deleted ? ' (deleted)' : ''),
      last && last.deleted ? el('p', { class: 'deleted', 'data-bucket': b, text: 'deleted at ' + last.deleted.time + ' by ' + who(last.deleted) + ': the settings below are as they were then' }) : null,
      settingsTable(b, settings),
      wins.length ? el('table', { class: 'windows' }, el('tr', {}, ['life', 'exposure', 'from', 'until', 'requests', 'opened by', 'closed by'].map((h) => el('th', { text: h }))),
        wins.map((w) => el('tr', { class: w.until ? '' : 'open' }, [w.life, w.exposure, w.from, w.until ?? 'still open', w.requests, w.opened_by, w.closed_by].map((v) => el('td', {}, shortText(v ?? '', 50)))))) : el('p', { text: 'no exposure window seen' }));
  });
  $('posture').replaceChildren(...(parts.length ? parts : [el('p', { text: 'no bucket settings in the logs' })]));
}

// ---- the evidence of one finding ----
const COMPACT = ['event_time', 'operation', 'event_name', 'requester', 'user_arn', 'remote_ip', 'source_ip', 'bucket', 'key', 'http_status', 'error_code', 'request_id', 'event_id'];
/** Columns of the two tables that name a principal or an address: they open its pivot. */
const PIVOT_COLUMNS = { requester: 'principal', user_arn: 'principal', principal: 'principal', remote_ip: 'source_ip', source_ip: 'source_ip', bucket: 'bucket' };
function eventsTable(source, table, all) {
  const names = table.columns.map((c) => c.name);
  const shown = all ? names : COMPACT.filter((n) => names.includes(n));
  const cell = (n, r) => {
    const v = r[n];
    if (PIVOT_COLUMNS[n] && (typeof v === 'string' || v === null)) return pivotLink(PIVOT_COLUMNS[n], v, null, 40);
    if (n === 'key') return pivotLink('key', v, r.bucket, 40);
    return shortText(v === null || v === undefined ? '' : typeof v === 'object' ? JSON.stringify(v) : v, all ? 80 : 44);
  };
  return el('div', { class: 'scroll' }, el('table', { class: 'events', 'data-source': source }, el('tr', {}, shown.map((n) => el('th', { text: n }))), table.rows.map((r) => el('tr', {}, shown.map((n) => el('td', {}, cell(n, r)))))));
}
function kv(rows) { return el('table', { class: 'kv' }, rows.map(([k, v]) => el('tr', {}, el('th', { text: k }), el('td', {}, v instanceof Node ? v : String(v ?? ''))))); }
function safeLink(url) {
  const u = String(url);
  return /^https?:\/\//i.test(u) ? el('a', { href: u, rel: 'noopener noreferrer', target: '_blank', text: u }) : el('span', { text: u });
}
async function renderFinding(id) {
  const box = $('finding-detail');
  box.replaceChildren(el('p', { text: 'loading\u2026' }));
  let j;
  try { j = await api('/api/findings/' + encodeURIComponent(id)); } catch (e) {
    box.replaceChildren(el('p', { class: 'err', text: e.status === 404 ? 'No current finding has the ID ' + id + ' (' + e.message + ').' : e.message }));
    return false;
  }
  const f = j.finding;
  const d = j.detection ?? {};
  const all = state().get('columns') === 'all';
  const ev = j.events ?? {};
  const sections = [];
  sections.push(el('h2', {}, el('span', { class: 'sev', style: 'background:' + (SEV[f.severity] || '#888'), text: f.severity }), ' ', f.title));
  sections.push(el('section', { id: 'about' }, el('h3', { text: 'What it means (' + (d.id ?? f.detection_id) + ')' }), el('p', { class: 'description', text: (d.description ?? '').trim() }),
    d.tags?.length ? el('p', { class: 'tags' }, 'tags: ', d.tags.map((t) => el('span', { class: 'tag', text: t }))) : null,
    d.references?.length ? el('ul', { class: 'refs' }, d.references.map((r) => el('li', {}, safeLink(r)))) : null));
  sections.push(el('section', { id: 'fields' }, el('h3', { text: 'The finding' }), kv([
    ['finding_id', f.finding_id], ['status', (f.status ?? 'unknown') + (f.status_by ? ' by ' + f.status_by + ': ' + (f.status_reason ?? '') : '')],
    ['first event', f.event_time ?? 'no time'], ['last event', f.last_time ?? ''], ['events', fmt(f.count ?? 1)], ['sources', (f.sources ?? []).join(', ')],
    ['bucket', pivotLink('bucket', f.bucket)], ['key', pivotLink('key', f.key, f.bucket, 100)], ['principal', pivotLink('principal', f.principal, null, 100)],
    ['address', pivotLink('source_ip', f.source_ip)], ['account', f.account_id ?? ''], ['region', f.region ?? ''],
    ['details', f.details && Object.keys(f.details).length ? el('pre', { text: JSON.stringify(f.details, null, 2) }) : ''],
  ])));
  const evs = el('section', { id: 'events' }, el('h3', { text: 'The events behind it' }),
    el('label', { class: 'toggle' }, el('input', { type: 'checkbox', id: 'all-columns', checked: all ? 'checked' : null, onchange: (e) => go({ columns: e.target.checked ? 'all' : null }, true) }), ' show all columns'));
  for (const src of ['access_log', 'cloudtrail']) {
    const t = ev[src];
    evs.append(el('h4', { text: src === 'access_log' ? 'S3 server access log' : 'CloudTrail' }));
    evs.append(t && t.rows.length ? eventsTable(src, t, all) : el('p', { class: 'note', text: 'no record of it in this source' }));
  }
  if (ev.truncated) evs.append(el('p', { class: 'note', text: 'more events than shown (at most 100 per source)' }));
  sections.push(evs);
  sections.push(el('section', { id: 'raw' }, el('h3', { text: 'As logged' }), (j.raw ?? []).map((r) => el('div', { class: 'raw' },
    el('div', { class: 'where', text: (r.source_file ?? '?') + ':' + (r.source_line ?? '?') }),
    r.text !== null && r.text !== undefined ? el('pre', { text: r.text }) : el('p', { class: 'note', text: 'not shown: ' + (r.note ?? 'unknown reason') }))),
    (j.raw ?? []).length ? null : el('p', { class: 'note', text: 'no log line is recorded for this finding' })));
  sections.push(el('section', { id: 'finding-posture' }, el('h3', { text: j.posture ? 'Bucket ' + j.posture.bucket + ' at ' + j.posture.at : 'Bucket posture' }),
    j.posture ? settingsTable(j.posture.bucket, j.posture.settings) : el('p', { class: 'note', text: 'no bucket: no posture' })));
  box.replaceChildren(...sections);
  return true;
}

// ---- the pivot page ----
const TOP = [['operations', 'operation', null], ['buckets', 'bucket', 'bucket'], ['principals', 'principal', 'principal'], ['source_ips', 'source_ip', 'source_ip'], ['keys', 'key', 'key']];
async function renderPivot(s) {
  const kind = s.get('kind');
  const value = s.get('value');
  const box = $('pivot-detail');
  const p = new URLSearchParams({ kind: kind ?? '', value: value ?? '' });
  for (const [k, from] of [['bucket', 'pbucket'], ['since', 'since'], ['until', 'until']]) if (s.get(from)) p.set(k, s.get(from));
  const bin = askedBin();
  if (bin) p.set('bin_minutes', String(bin));
  $('pivot-title').replaceChildren(kind + ' ', el('span', { class: 'pivot-value', text: value ?? '' }), s.get('pbucket') ? ' in ' + s.get('pbucket') : '');
  let j;
  try { j = await api('/api/pivot', p); } catch (e) {
    box.replaceChildren(el('p', { class: 'err', text: e.message }));
    return false;
  }
  // A key names an object only within its bucket: the pivot's bucket, or the one bucket it touched.
  const keyBucket = (r) => r.bucket ?? (kind === 'bucket' ? value : s.get('pbucket') ?? (j.top?.buckets?.length === 1 ? j.top.buckets[0].bucket : null));
  const topCell = (pk, col, r) => pk ? pivotLink(pk, r[col], pk === 'key' ? keyBucket(r) : null, 40) : shortText(r[col] ?? 'none', 40);
  const topTable = (k, col, pk) => j.top[k].length
    ? el('table', {}, j.top[k].map((r) => el('tr', {}, el('td', {}, topCell(pk, col, r)), el('td', { class: 'num', text: fmt(r.requests) }))))
    : el('p', { class: 'note', text: 'none' });
  const tops = el('div', { class: 'tops' }, TOP.filter(([k]) => j.top?.[k]).map(([k, col, pk]) => el('div', { class: 'top', 'data-top': k }, el('h4', { text: 'top ' + k.replace('_', ' ') }), topTable(k, col, pk))));
  box.replaceChildren(
    el('p', { class: 'seen', text: j.first_seen ? 'seen from ' + j.first_seen + ' to ' + j.last_seen : 'no request of it in the range' }),
    el('section', {}, el('h3', {}, 'Activity ', el('span', { class: 'bin' })), el('div', { class: 'chart tall' }, el('canvas', { id: 'pivot_activity' }))),
    tops,
    el('section', { id: 'pivot-findings' }, el('h3', { text: 'Findings involving it' }), j.findings.rows.length ? findingsTable(j.findings.rows, { sortable: false }) : el('p', { text: 'no finding involves it (checked)' })),
  );
  timeChart('pivot_activity', j.activity.rows, j.bin_minutes, 'requests', 'source', ['access_log', 'cloudtrail'], SOURCE_COLOR);
  return true;
}

// ---- one render per view change ----
async function render() {
  const seq = ++renderSeq;
  document.body.dataset.ready = 'false';
  const s = state();
  const view = s.get('view') || 'list';
  if (document.body.dataset.view === 'list' && view !== 'list') listScroll = window.scrollY;
  document.body.dataset.view = view;
  for (const v of ['list', 'finding', 'pivot']) $(v + '-view').hidden = v !== view;
  $('since').value = (s.get('since') ?? '').slice(0, 16).replace(/Z$/, '');
  $('until').value = (s.get('until') ?? '').slice(0, 16).replace(/Z$/, '');
  if (s.get('bucket') && ![...$('bucket').options].some((o) => o.value === s.get('bucket'))) $('bucket').add(new Option(s.get('bucket'), s.get('bucket')));
  $('bucket').value = s.get('bucket') ?? '';
  $('reset-zoom').hidden = !(s.get('since') || s.get('until'));
  const status = $('status');
  status.textContent = 'loading\u2026';
  status.className = '';
  let ok = false;
  try {
    if (!queries) {
      const [q, d] = await Promise.all([api('/api/queries'), api('/api/detections')]);
      queries = Object.fromEntries(q.queries.map((x) => [x.name, Object.keys(x.params)]));
      detections = d.detections;
      for (const b of (await api('/api/queries/buckets')).rows) if (![...$('bucket').options].some((o) => o.value === b.bucket)) $('bucket').add(new Option(b.bucket, b.bucket));
      $('bucket').value = s.get('bucket') ?? '';
    }
    if (view === 'finding') ok = await renderFinding(s.get('id'));
    else if (view === 'pivot') ok = await renderPivot(s);
    else { ok = await renderList(); window.scrollTo(0, listScroll); }
  } catch (e) {
    status.textContent = e.message;
  }
  if (seq !== renderSeq) return;
  status.textContent = ok ? 'ready' : status.textContent === 'loading\u2026' ? 'some panels could not be drawn' : status.textContent;
  status.className = ok ? '' : 'err';
  // What was drawn, for a test (or a script) to know the view in the address is the one on screen.
  document.body.dataset.rendered = location.hash;
  document.body.dataset.ready = 'true';
}

(() => {
  tokenFromAddress();
  showForget();
  $('forget').onclick = (ev) => { ev.preventDefault(); sessionStorage.removeItem(TOKEN_KEY); location.reload(); };
  const time = (id) => { const v = $(id).value; return v ? new Date(v + 'Z').toISOString().replace('.000Z', 'Z') : null; };
  $('filters').onsubmit = (ev) => { ev.preventDefault(); go({ since: time('since'), until: time('until'), bucket: $('bucket').value, offset: null }); };
  $('reset-zoom').onclick = () => go({ since: null, until: null, offset: null });
  $('list-filters').onsubmit = (ev) => {
    ev.preventDefault();
    go({ severity: $('f-severity').value, detection: $('f-detection').value, status: $('f-status').value === 'open,acknowledged' ? null : $('f-status').value, principal: $('f-principal').value.trim(), source_ip: $('f-source_ip').value.trim(), offset: null });
  };
  for (const id of ['f-severity', 'f-detection', 'f-status']) $(id).onchange = () => $('list-filters').requestSubmit();
  for (const id of ['back', 'back2']) $(id).onclick = (ev) => { ev.preventDefault(); go({ view: null, id: null, kind: null, value: null, pbucket: null, columns: null }); };
  window.addEventListener('hashchange', () => { tokenFromAddress(); render(); });
  render();
})();
`;
