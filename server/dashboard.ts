/**
 * The built-in dashboard page (`GET /`): an investigation tool over the API.
 * The list view (timelines with a zoom brush, charts, the findings table),
 * a finding's evidence, and the pivot page of a principal, address, bucket or
 * key. Chart.js is served by the app from the npm package (no CDN); the page
 * holds no data, so with --token it loads without the token and asks for it
 * when /api/* answers 401 (client.ts). The page's own text is static: every
 * value from the logs is set by the script as text, never as markup.
 */
import { DASHBOARD_SCRIPT } from './dashboard/client.js';
import { DASHBOARD_STYLE } from './dashboard/style.js';

export function dashboardHtml(): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>s3sift</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<link rel="icon" href="data:,">
<style>${DASHBOARD_STYLE}</style></head>
<body>
<header>
  <h1><a href="#" id="home">s3sift</a></h1>
  <form id="filters">
    <label>since <input type="datetime-local" id="since"></label>
    <label>until <input type="datetime-local" id="until"></label>
    <label>bucket <select id="bucket"><option value="">all</option></select></label>
    <button id="apply">apply</button>
    <button type="button" id="reset-zoom" hidden>reset zoom</button>
  </form>
  <span id="status"></span>
  <a href="#" id="forget" hidden>forget token</a>
</header>
<div id="token-box" hidden>
  <form id="token-form">
    <p id="token-message"></p>
    <label>token <input type="password" id="token-input" autocomplete="off"></label>
    <button>use it</button>
    <p class="note">Kept in this tab only (sessionStorage) and sent as <code>Authorization: Bearer</code>.</p>
  </form>
</div>
<div id="list-view" hidden>
  <main class="grid">
    <section class="wide"><h2>Requests over time, by source <span class="bin"></span> <span class="hint">drag across to zoom</span></h2><div class="chart"><canvas id="requests_over_time"></canvas></div></section>
    <section class="wide"><h2>Findings over time, by severity <span class="bin"></span> <span class="hint">drag across to zoom</span></h2><div class="chart"><canvas id="findings_over_time"></canvas></div></section>
    <section class="wide" id="findings-section"><h2>Findings</h2>
      <form id="list-filters">
        <label>severity <select id="f-severity"></select></label>
        <label>detection <select id="f-detection"></select></label>
        <label>status <select id="f-status"></select></label>
        <label>principal <input id="f-principal" size="32" placeholder="exact ARN or ID"></label>
        <label>address <input id="f-source_ip" size="16"></label>
        <button>filter</button>
      </form>
      <div id="findings"></div></section>
    <section><h2>Top detections</h2><div class="chart"><canvas id="top_detections"></canvas></div></section>
    <section><h2>Top principals <span class="hint">click: pivot</span></h2><div class="chart"><canvas id="top_principals"></canvas></div></section>
    <section><h2>Top addresses <span class="hint">click: pivot</span></h2><div class="chart"><canvas id="top_addresses"></canvas></div></section>
    <section><h2>Requests by TLS version</h2><div class="chart"><canvas id="tls_versions"></canvas></div></section>
    <section><h2>Requests by signature version</h2><div class="chart"><canvas id="signature_versions"></canvas></div></section>
    <section><h2>Pre-signed URL use <span class="bin"></span></h2><div class="chart"><canvas id="presigned_use"></canvas></div></section>
    <section class="wide" id="posture-section"><h2>Bucket posture (at the end of the time range; settings read from CloudTrail, unknown when never set in the logs)</h2><div id="posture"></div></section>
  </main>
</div>
<div id="finding-view" hidden>
  <nav><a href="#" id="back">&larr; back to the findings</a></nav>
  <main id="finding-detail"></main>
</div>
<div id="pivot-view" hidden>
  <nav><a href="#" id="back2">&larr; back to the findings</a></nav>
  <main><h2 id="pivot-title"></h2><div id="pivot-detail"></div></main>
</div>
<script src="/assets/chart.umd.js"></script>
<script>${DASHBOARD_SCRIPT}</script></body></html>`;
}
