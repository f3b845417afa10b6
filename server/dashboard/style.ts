/** The dashboard's style sheet (inline in the page: one request, nothing to fetch but Chart.js). */
export const DASHBOARD_STYLE = `
  body { font: 14px system-ui, sans-serif; margin: 0; background: #f6f7f9; color: #1d2330; }
  header { padding: 10px 20px; background: #1d2330; color: #fff; display: flex; gap: 16px; align-items: center; flex-wrap: wrap; position: sticky; top: 0; z-index: 5; }
  header h1 { font-size: 18px; margin: 0 12px 0 0; }
  header h1 a { color: #fff; text-decoration: none; }
  header form { display: flex; gap: 10px; align-items: center; flex-wrap: wrap; }
  header label { font-size: 13px; }
  header a { color: #9cc7ff; }
  #status { font-size: 13px; }
  #status.err { color: #ffb3b3; }
  main { padding: 16px; }
  main.grid { display: grid; grid-template-columns: repeat(auto-fill, minmax(420px, 1fr)); gap: 16px; }
  section { background: #fff; border-radius: 6px; padding: 12px; box-shadow: 0 1px 2px #0002; margin-bottom: 16px; }
  main.grid section { margin-bottom: 0; }
  section.wide { grid-column: 1 / -1; }
  section h2, section h3 { font-size: 14px; margin: 0 0 8px; }
  h4 { font-size: 13px; margin: 12px 0 4px; }
  .hint, .bin { font-weight: normal; color: #6b7585; font-size: 12px; margin-left: 8px; }
  .chart { position: relative; height: 260px; }
  section.wide .chart { height: 200px; }
  .chart.tall { height: 240px; }
  .chart canvas { cursor: crosshair; }
  .brush { position: absolute; top: 0; bottom: 0; background: #4c9be833; border: 1px solid #4c9be8; pointer-events: none; }
  .err { color: #b00020; }
  .note { color: #6b7585; font-style: italic; }
  table { border-collapse: collapse; width: 100%; font-size: 13px; margin-bottom: 12px; }
  th, td { text-align: left; padding: 3px 8px; border-bottom: 1px solid #e3e6ea; vertical-align: top; }
  th.sortable { cursor: pointer; color: #1f5fa8; white-space: nowrap; }
  th.sorted { text-decoration: underline; }
  table.findings { font-size: 12.5px; }
  table.findings td, table.findings th { white-space: nowrap; padding: 3px 6px; }
  table.findings td.finding { white-space: normal; min-width: 200px; max-width: 300px; }
  .det { color: #6b7585; font-size: 12px; }
  td.time { white-space: nowrap; font-variant-numeric: tabular-nums; }
  td.num { text-align: right; font-variant-numeric: tabular-nums; }
  td.unknown { color: #8a93a3; font-style: italic; }
  tr.open td { background: #fdecea; }
  p.deleted { color: #b00020; font-weight: 600; }
  .sev { display: inline-block; padding: 0 6px; border-radius: 3px; color: #fff; font-size: 12px; }
  .none { color: #8a93a3; }
  a { color: #1f5fa8; }
  a.pivot { text-decoration: none; border-bottom: 1px dotted #1f5fa8; }
  .pager { display: flex; gap: 12px; align-items: center; margin: 6px 0; }
  #list-filters { display: flex; gap: 10px; flex-wrap: wrap; align-items: center; margin-bottom: 6px; font-size: 13px; }
  nav { padding: 10px 16px 0; }
  .kv th { width: 140px; color: #4a5263; font-weight: 600; }
  .kv pre, .raw pre { margin: 0; white-space: pre-wrap; word-break: break-all; font-size: 12px; }
  .raw { margin-bottom: 8px; }
  .raw pre { background: #f3f4f6; padding: 6px 8px; border-radius: 4px; }
  .raw .where { font-family: ui-monospace, monospace; font-size: 12px; color: #4a5263; }
  .scroll { overflow-x: auto; }
  .events td { white-space: nowrap; }
  .tag { display: inline-block; background: #e8eef7; border-radius: 3px; padding: 0 6px; margin-right: 4px; font-size: 12px; }
  .description { white-space: pre-wrap; max-width: 900px; }
  .tops { display: grid; grid-template-columns: repeat(auto-fill, minmax(300px, 1fr)); gap: 12px; margin-bottom: 16px; }
  .top { background: #fff; border-radius: 6px; padding: 8px 12px; box-shadow: 0 1px 2px #0002; }
  .pivot-value { font-family: ui-monospace, monospace; word-break: break-all; }
  #token-box { max-width: 520px; margin: 40px auto; background: #fff; padding: 16px 20px; border-radius: 6px; box-shadow: 0 1px 4px #0003; }
  body[data-token="asked"] #list-view, body[data-token="asked"] #finding-view, body[data-token="asked"] #pivot-view { display: none; }
  #token-message { font-weight: 600; }
`;
