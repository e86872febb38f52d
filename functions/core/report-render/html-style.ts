import type { Verdict } from '../readiness';

export const COLORS = {
  verdict: { UNKNOWN: '#868e96', NOT_STARTED: '#c92a2a', IN_PROGRESS: '#e67700', SOAKING: '#1971c2', READY: '#2b8a3e' } as Record<Verdict, string>,
  irsa: '#f76707',
  irsaFailed: '#862e0c',
  podIdentity: '#1c7ed6',
  podIdentityFailed: '#0b3d75',
  lastIrsa: '#d9480f',
  soakEnd: '#2b8a3e',
  asOf: '#495057',
};

/**
 * The page's one stylesheet. No `style` attribute anywhere (the Content-Security-Policy allows
 * this element by its hash and nothing else); the script sizes things through the CSSOM, which a
 * CSP does not govern. Tables sit in `.scroll` wrappers: on a phone they scroll sideways inside
 * the wrapper and the page itself never gets wider than the screen.
 */
export const CSS = `
:root{--ink:#1f2430;--muted:#5c6370;--line:#dee2e6;--bg:#f8f9fa;--unk:${COLORS.verdict.UNKNOWN};--ns:${COLORS.verdict.NOT_STARTED};--ip:${COLORS.verdict.IN_PROGRESS};--soak:${COLORS.verdict.SOAKING};--ready:${COLORS.verdict.READY}}
*{box-sizing:border-box}
html{-webkit-text-size-adjust:100%}
body{margin:0;font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif;color:var(--ink);background:#fff;overflow-wrap:anywhere}
main{max-width:1200px;margin:0 auto;padding:24px 28px 40px}
h1{font-size:24px;margin:0 0 2px}
h2{font-size:18px;margin:30px 0 10px;padding-bottom:6px;border-bottom:2px solid var(--line)}
h3{font-size:15px;margin:16px 0 6px}
h3.good{color:var(--ready)}h3.bad{color:var(--ns)}
.meta,.small{color:var(--muted)}.small{font-size:12px}
.lede{margin:4px 0 0}
.note{background:var(--bg);border:1px solid var(--line);padding:6px 10px;border-radius:4px}
.warn{background:#fff4e6;border-left:4px solid var(--ip);padding:6px 10px;margin:6px 0;font-size:13px}
.cards{display:grid;grid-template-columns:repeat(auto-fit,minmax(130px,1fr));gap:10px;margin:18px 0 12px}
.card{border:1px solid var(--line);border-top:5px solid var(--muted);border-radius:6px;padding:8px 12px}
.card .n{font-size:26px;font-weight:700;line-height:1.15;font-variant-numeric:tabular-nums}
.card .l{color:var(--muted);font-size:11px;text-transform:uppercase;letter-spacing:.03em}
.card.v-UNKNOWN{border-top-color:var(--unk)}.card.v-NOT_STARTED{border-top-color:var(--ns)}.card.v-IN_PROGRESS{border-top-color:var(--ip)}.card.v-SOAKING{border-top-color:var(--soak)}.card.v-READY{border-top-color:var(--ready)}
.card.straggle{border-top-color:${COLORS.irsa}}.card.clean{border-top-color:var(--ready)}.card.oidc{border-top-color:#495057}
.scroll{overflow-x:auto;-webkit-overflow-scrolling:touch;max-width:100%;margin:6px 0 14px;border:1px solid var(--line);border-radius:4px}
table{border-collapse:collapse;width:100%;font-size:13px;overflow-wrap:normal}
th,td{text-align:left;padding:5px 8px;border-bottom:1px solid var(--line);vertical-align:top}
th{background:var(--bg);font-weight:600;font-size:12px;white-space:nowrap}
.num{text-align:right;font-variant-numeric:tabular-nums}
.nowrap{white-space:nowrap}
td.detail{font-size:12px;color:#343a40;min-width:200px}
button.chart{display:block;margin-top:3px;padding:0 7px;font-size:11px}
tbody.item{break-inside:avoid;page-break-inside:avoid}
tbody.item tr:first-child td{border-bottom:none;padding-bottom:2px}
tr.todo td{font-size:12px;color:#343a40;padding-top:0;padding-left:22px}
.cmd,.step-cmd{display:flex;align-items:flex-start;gap:6px;margin-top:3px;max-width:min(900px,calc(100vw - 64px));position:sticky;left:8px}
.cmd code,.step-cmd code{flex:1;display:block;padding:3px 8px;background:var(--bg);border:1px solid var(--line);border-radius:3px;overflow-wrap:anywhere;color:#212529}
button{font:inherit;font-size:12px;padding:2px 9px;border:1px solid #adb5bd;border-radius:4px;background:#fff;color:var(--ink);cursor:pointer}
button:hover{background:var(--bg)}
button.copy{flex:none}
button.copy.done{border-color:var(--ready);color:var(--ready)}
button.more{margin:0 0 12px}
.mono{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:11px;word-break:break-all}
code{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:12px}
.sep{color:var(--muted);padding:0 1px}
.badge{display:inline-block;padding:1px 8px;border-radius:10px;font-size:11px;font-weight:700;color:#fff;background:var(--unk);white-space:nowrap;letter-spacing:.02em}
.badge.v-NOT_STARTED{background:var(--ns)}.badge.v-IN_PROGRESS{background:var(--ip)}.badge.v-SOAKING{background:var(--soak)}.badge.v-READY{background:var(--ready)}
.step{display:inline-block;text-decoration:none;padding:1px 8px;border-radius:4px;color:#fff;background:#495057;font-size:12px;white-space:nowrap}
.step-create-association{background:var(--ns)}.step-check-trust-policy{background:#862e9c}.step-restart-pods{background:var(--ip)}.step-clean-up{background:var(--ready)}
ul.changes{margin:4px 0 8px;padding-left:20px}
.js-only{display:none}.js .js-only{display:block}.js .no-js{display:none}
.toolbar{position:sticky;top:0;z-index:2;background:#fff;border-bottom:1px solid var(--line);padding:8px 0;margin:10px 0 0;display:none;flex-wrap:wrap;gap:8px;align-items:center}
.js .toolbar{display:flex}
.toolbar input[type=search]{flex:1 1 220px;min-width:0;font:inherit;padding:5px 8px;border:1px solid #adb5bd;border-radius:4px}
.toolbar select{font:inherit;padding:4px 6px;border:1px solid #adb5bd;border-radius:4px;background:#fff;max-width:100%}
.toolbar .status{flex:1 1 100%;color:var(--muted);font-size:12px}
details.cluster{border:1px solid var(--line);border-radius:6px;margin:10px 0}
details.cluster>summary{cursor:pointer;padding:8px 12px;background:var(--bg);border-radius:6px;list-style-position:inside}
details.cluster[open]>summary{border-bottom:1px solid var(--line);border-radius:6px 6px 0 0}
details.cluster>summary .name{font-weight:700;font-size:15px;margin-right:6px}
details.cluster>summary .chips{display:inline-flex;flex-wrap:wrap;gap:4px 10px;margin-left:4px;font-size:12px;color:var(--muted);vertical-align:1px}
details.cluster>summary .chips b{color:var(--ink)}
details.cluster>summary .match{font-size:12px;color:var(--soak);margin-left:8px}
details.cluster.hidden{display:none}
.cl-body{padding:4px 12px 8px}
.cl-body h3{font-size:14px}
.chart-box{position:relative;height:180px;margin:8px 0}
.chart-box.fleet{height:230px}
tr.chart-row td{padding:2px 8px 8px}
tr.chart-row .chart-box{height:170px;max-width:760px;margin:0}
.legend{font-size:12px;color:var(--muted);margin:4px 0 12px}
.legend .key{display:inline-block;width:11px;height:11px;border-radius:2px;vertical-align:-1px;margin:0 4px 0 10px}
.legend .key.irsa{background:${COLORS.irsa}}.legend .key.irsa-failed{background:${COLORS.irsaFailed}}
.legend .key.pi{background:${COLORS.podIdentity}}.legend .key.pi-failed{background:${COLORS.podIdentityFailed}}
.legend .key.band{background:rgba(43,138,62,.18)}.legend .key.future{background:rgba(73,80,87,.14)}
.legend .line{display:inline-block;width:16px;height:0;border-top:2px solid;vertical-align:3px;margin:0 4px 0 10px}
.legend .line.last-irsa{border-color:${COLORS.lastIrsa};border-top-style:dashed}.legend .line.soak-end{border-color:${COLORS.soakEnd}}
dl.explain{display:grid;grid-template-columns:max-content 1fr;gap:6px 12px;margin:8px 0;font-size:13px}
dl.explain dt{margin:0}dl.explain dd{margin:0}
footer{margin-top:36px;border-top:1px solid var(--line);padding-top:8px}
@media (max-width:600px){
  main{padding:12px 10px 28px}
  h1{font-size:20px}
  .cards{grid-template-columns:repeat(2,minmax(0,1fr));gap:8px}
  .card .n{font-size:22px}
  dl.explain{grid-template-columns:1fr;gap:2px}
  dl.explain dd{margin:0 0 8px}
  details.cluster>summary{padding:8px}
  .cl-body{padding:4px 8px 8px}
  td.detail{min-width:200px}
}
@media print{
  @page{margin:12mm}
  body{font-size:11px}
  .small,td.detail,tr.todo td{font-size:9.5px}
  main{max-width:none;padding:0}
  *{-webkit-print-color-adjust:exact;print-color-adjust:exact}
  h2{break-after:avoid;page-break-after:avoid}
  tr,.card,.warn{break-inside:avoid;page-break-inside:avoid}
  .toolbar,button{display:none!important}
  .scroll{overflow:visible;border:none}
  thead{display:table-header-group}
  table{font-size:10px}
}
`;
