/**
 * The page's script: plain ES2017, no dependency but Chart.js, no `innerHTML` (every value goes
 * in as `textContent` or an attribute set through the DOM, so the data needs no HTML escaping
 * and a hostile name stays text).
 *
 * What it does with `#cw-data`: draws the two fleet charts; renders a cluster's rows only once
 * its section is open and near the screen, a page (50 rows) per table at a time with a "show
 * more" button; filters by text (cluster, namespace, service account, role) and verdict; copies a
 * command with navigator.clipboard, or selects it and falls back to `execCommand('copy')`; draws
 * a namespace's chart when its row's button asks. `data-ready` on <html> says it is done.
 */
export const CLIENT_JS = String.raw`
(function () {
  'use strict';
  var root = document.documentElement;
  var source = document.getElementById('cw-data');
  /** The data as JSON text, or gzip then base64 when large (DecompressionStream, 2020-2023 in every major browser). */
  function readData() {
    if (source.getAttribute('data-encoding') !== 'gzip-base64') return Promise.resolve(JSON.parse(source.textContent));
    if (typeof DecompressionStream !== 'function') return Promise.reject(new Error('this browser cannot decompress the rows (no DecompressionStream): open the file in a current browser'));
    var binary = atob(source.textContent.trim());
    var bytes = new Uint8Array(binary.length);
    for (var i = 0; i < binary.length; i += 1) bytes[i] = binary.charCodeAt(i);
    return new Response(new Blob([bytes]).stream().pipeThrough(new DecompressionStream('gzip'))).text().then(JSON.parse);
  }
  readData().then(start, function (e) {
    console.error('cutover-watch: the rows could not be read: ' + e);
    var status = document.getElementById('cw-status');
    if (status) status.textContent = 'The rows could not be read: ' + e.message;
    root.setAttribute('data-ready', 'error');
  });

  function start(data) {
    var PAGE = 50;
    var C = window.Chart;
    var colors = data.colors;
    var verdicts = data.verdicts;
    var steps = data.steps;
    var filter = { q: '', verdict: -1 };
    var filtering = function () { return filter.q !== '' || filter.verdict >= 0; };

    function el(tag, cls, text) {
      var e = document.createElement(tag);
      if (cls) e.className = cls;
      if (text !== undefined && text !== null) e.textContent = String(text);
      return e;
    }
    function add(parent) { for (var i = 1; i < arguments.length; i += 1) if (arguments[i]) parent.appendChild(arguments[i]); return parent; }
    function td(text, cls) { return el('td', cls, text); }
    function fmt(n) { return n.toLocaleString('en-US'); }
    function plural(n, word, many) { return fmt(n) + ' ' + (n === 1 ? word : many || word + 's'); }
    function badge(v) { return el('span', 'badge v-' + verdicts[v], verdicts[v]); }
    function roleCell(arn) {
      if (!arn) return td('-');
      var cell = td();
      var span = el('span', null, arn.slice(arn.lastIndexOf('/') + 1));
      span.title = arn;
      return add(cell, span);
    }
    function stepBadge(s) {
      var a = el('a', 'step step-' + steps[s].id, steps[s].title);
      a.href = '#step-' + steps[s].id;
      return a;
    }

    // ---- the two fleet charts ----
    var font = getComputedStyle(document.body).fontFamily;
    if (C) {
      C.defaults.animation = false;
      C.defaults.maintainAspectRatio = false;
      C.defaults.font.family = font;
      C.defaults.font.size = 11;
      C.defaults.color = '#495057';
      C.defaults.plugins.legend.labels.boxWidth = 11;
      C.defaults.plugins.legend.labels.boxHeight = 11;
    } else console.error('cutover-watch: the chart library did not load');

    function clamp(px, area) { return Math.max(area.left, Math.min(area.right, px)); }
    var soakClock = {
      id: 'cwSoakClock',
      beforeDatasetsDraw: function (chart, args, opts) {
        var x = chart.scales.x, a = chart.chartArea, ctx = chart.ctx;
        ctx.save();
        if (opts.band) {
          var b0 = clamp(x.getPixelForValue(opts.band[0]), a), b1 = clamp(x.getPixelForValue(opts.band[1]), a);
          if (b1 > b0) { ctx.fillStyle = 'rgba(43,138,62,0.10)'; ctx.fillRect(b0, a.top, b1 - b0, a.bottom - a.top); }
        }
        if (opts.futureFrom !== null && opts.futureFrom !== undefined) {
          var f = clamp(x.getPixelForValue(opts.futureFrom), a);
          ctx.fillStyle = 'rgba(73,80,87,0.09)';
          ctx.fillRect(f, a.top, a.right - f, a.bottom - a.top);
        }
        ctx.restore();
      },
      afterDatasetsDraw: function (chart, args, opts) {
        var x = chart.scales.x, a = chart.chartArea, ctx = chart.ctx;
        (opts.markers || []).forEach(function (m) {
          var px = clamp(x.getPixelForValue(m.pos), a);
          ctx.save();
          ctx.strokeStyle = m.color;
          ctx.lineWidth = 1.5;
          ctx.setLineDash(m.dash ? [5, 3] : []);
          ctx.beginPath(); ctx.moveTo(px, a.top); ctx.lineTo(px, a.bottom); ctx.stroke();
          ctx.setLineDash([]);
          ctx.font = '600 10px ' + font;
          var w = ctx.measureText(m.label).width;
          var tx = px + 4 + w > a.right ? px - 4 - w : px + 4;
          var ty = a.top + 11 + 12 * m.row;
          ctx.fillStyle = 'rgba(255,255,255,0.85)';
          ctx.fillRect(tx - 2, ty - 9, w + 4, 12);
          ctx.fillStyle = m.color;
          ctx.fillText(m.label, tx, ty);
          ctx.restore();
        });
      }
    };
    var barValues = {
      id: 'cwBarValues',
      afterDatasetsDraw: function (chart) {
        var ctx = chart.ctx;
        ctx.save();
        ctx.font = '700 11px ' + font;
        ctx.fillStyle = '#fff';
        ctx.textAlign = 'center';
        ctx.textBaseline = 'middle';
        chart.data.datasets.forEach(function (ds, di) {
          var meta = chart.getDatasetMeta(di);
          if (meta.hidden) return;
          meta.data.forEach(function (e, i) {
            var v = ds.data[i];
            if (!v || Math.abs(e.x - e.base) < 16) return;
            ctx.fillText(String(v), (e.x + e.base) / 2, e.y);
          });
        });
        ctx.restore();
      }
    };
    function draw(canvas, config) {
      if (!C || !canvas) return;
      try { new C(canvas, config); } catch (e) { console.error('cutover-watch: chart ' + canvas.id + ' could not be drawn: ' + e); }
    }
    var clusterBox = document.getElementById('chart-clusters-box');
    if (clusterBox) clusterBox.style.height = (70 + 24 * Math.max(1, data.clusterChart.labels.length)) + 'px';
    draw(document.getElementById('chart-clusters'), {
      type: 'bar',
      data: {
        labels: data.clusterChart.labels,
        datasets: verdicts.map(function (v) { return { label: v, data: data.clusterChart.counts[v], backgroundColor: colors.verdict[v], borderWidth: 0, barPercentage: 0.7 }; })
      },
      options: {
        indexAxis: 'y',
        scales: {
          x: { stacked: true, beginAtZero: true, ticks: { precision: 0 }, title: { display: true, text: 'namespaces' } },
          y: { stacked: true, grid: { display: false }, ticks: { autoSkip: false, font: { size: 12, weight: '600' } } }
        },
        plugins: { legend: { position: 'top', align: 'start' } }
      },
      plugins: [barValues]
    });
    var days = data.fleet.irsa.length;
    draw(document.getElementById('chart-fleet'), {
      type: 'line',
      data: {
        labels: data.dayLabels.slice(0, days),
        datasets: [
          { label: 'IRSA assumes (whole fleet)', data: data.fleet.irsa, borderColor: colors.irsa, backgroundColor: 'rgba(247,103,7,0.15)', fill: true, tension: 0.25, pointRadius: 2 },
          { label: 'Pod Identity assumes (whole fleet)', data: data.fleet.podIdentity, borderColor: colors.podIdentity, backgroundColor: 'rgba(28,126,214,0.12)', fill: true, tension: 0.25, pointRadius: 2 }
        ]
      },
      options: {
        interaction: { mode: 'index', intersect: false },
        scales: { x: { grid: { display: false }, ticks: { maxRotation: 0, autoSkip: true, maxTicksLimit: 12 } }, y: { beginAtZero: true, ticks: { precision: 0 }, title: { display: true, text: 'assumes per day' } } },
        plugins: { legend: { position: 'top', align: 'start' } }
      }
    });

    function namespaceChart(canvas, n) {
      var pad = function (values) {
        if (!values) return null;
        var out = values.slice();
        while (out.length < n.total) out.push(null);
        return out;
      };
      var datasets = [{ label: 'IRSA', data: pad(n.irsa), backgroundColor: colors.irsa, stack: 'irsa' }];
      if (n.irsaFailed) datasets.push({ label: 'IRSA denied', data: pad(n.irsaFailed), backgroundColor: colors.irsaFailed, stack: 'irsa' });
      datasets.push({ label: 'Pod Identity', data: pad(n.podIdentity), backgroundColor: colors.podIdentity, stack: 'pi' });
      if (n.podIdentityFailed) datasets.push({ label: 'Pod Identity denied', data: pad(n.podIdentityFailed), backgroundColor: colors.podIdentityFailed, stack: 'pi' });
      draw(canvas, {
        type: 'bar',
        data: { labels: data.dayLabels.slice(0, n.total), datasets: datasets },
        options: {
          interaction: { mode: 'index', intersect: false },
          datasets: { bar: { categoryPercentage: 0.9, barPercentage: 0.95 } },
          scales: {
            x: { stacked: true, grid: { display: false }, ticks: { maxRotation: 0, autoSkip: true, maxTicksLimit: 7 } },
            y: { stacked: true, beginAtZero: true, ticks: { precision: 0, maxTicksLimit: 4 } }
          },
          plugins: { legend: { display: false }, cwSoakClock: { markers: n.markers, band: n.band, futureFrom: n.futureFrom } }
        },
        plugins: [soakClock]
      });
    }

    // ---- filtering ----
    var groups = data.groups.map(function (g, i) {
      var details = document.getElementById('cl-' + i);
      return { data: g, details: details, rows: details ? details.querySelector('.cl-rows') : null, match: details ? details.querySelector('.match') : null, wasOpen: details ? details.open : false, rendered: false, keys: null, shown: null, view: null };
    });
    function keysOf(g) {
      if (g.keys) return g.keys;
      var lower = function (r) { return (r[0] + '\u0000' + r[1] + '\u0000' + r[2]).toLowerCase(); };
      g.keys = {
        name: g.data.name.toLowerCase(),
        ns: g.data.ns.map(function (r) { return (r[0] + '\u0000' + r[7]).toLowerCase(); }),
        st: g.data.st.map(lower),
        cu: g.data.cu.map(lower)
      };
      return g.keys;
    }
    /** The rows of a group the filter lets through, per table. */
    function viewOf(g) {
      if (!filtering()) return { ns: g.data.ns, st: g.data.st, cu: g.data.cu };
      var keys = keysOf(g);
      var all = filter.q === '' || keys.name.indexOf(filter.q) !== -1;
      var pick = function (rows, k, verdictAt) {
        return rows.filter(function (r, i) {
          return (filter.verdict < 0 || r[verdictAt] === filter.verdict) && (all || k[i].indexOf(filter.q) !== -1);
        });
      };
      return { ns: pick(g.data.ns, keys.ns, 1), st: pick(g.data.st, keys.st, 8), cu: pick(g.data.cu, keys.cu, 8) };
    }

    // ---- rendering a cluster's rows ----
    function more(container, left, onClick) {
      if (left <= 0) return;
      var b = el('button', 'more', 'Show ' + fmt(Math.min(PAGE, left)) + ' more (' + fmt(left) + ' not shown)');
      b.type = 'button';
      b.addEventListener('click', onClick);
      container.appendChild(b);
    }
    function table(head, numeric) {
      var t = el('table');
      var tr = el('tr');
      head.forEach(function (h, i) { tr.appendChild(el('th', numeric && numeric.indexOf(i) !== -1 ? 'num' : null, h)); });
      add(t, add(el('thead'), tr));
      return t;
    }
    function commandsCell(commands, span) {
      var cell = el('td');
      cell.colSpan = span;
      commands.forEach(function (c) {
        var line = el('div', 'cmd');
        var b = el('button', 'copy', 'Copy');
        b.type = 'button';
        b.setAttribute('aria-label', 'copy the command');
        add(cell, add(line, el('code', null, c), b));
      });
      return add(el('tr', 'todo'), cell);
    }
    function stragglerItems(t, rows, from, to, cleanUp) {
      for (var i = from; i < to; i += 1) {
        var r = rows[i];
        var tr = add(el('tr'), td(r[0], 'nowrap'), td(r[1]), roleCell(r[2]), td(r[3], 'nowrap'));
        if (!cleanUp) {
          var assoc = r[5] === '' ? add(td(), el('b', null, 'no')) : td(r[5], 'nowrap');
          add(tr, td(r[4], 'nowrap'), assoc);
        }
        add(tr, add(td(), stepBadge(r[6])));
        add(t, add(el('tbody', 'item'), tr, commandsCell(r[7], cleanUp ? 5 : 7)));
      }
    }
    function namespaceItems(tbody, rows, from, to) {
      for (var i = from; i < to; i += 1) {
        var r = rows[i];
        var name = add(td(), el('b', 'nowrap', r[0]), r[7] ? el('div', 'small', r[7]) : null);
        if (r[9] >= 0) {
          var b = el('button', 'chart', 'Chart');
          b.type = 'button';
          b.setAttribute('data-chart', String(r[9]));
          b.setAttribute('aria-expanded', 'false');
          b.setAttribute('aria-label', 'daily chart of ' + r[0]);
          name.appendChild(b);
        }
        var why = td(null, 'detail');
        r[8].forEach(function (line, j) { if (j > 0) why.appendChild(el('br')); why.appendChild(document.createTextNode(line)); });
        add(tbody, add(el('tr'), name, add(td(), badge(r[1])), td(r[2]), td(r[3]), td(r[4]), td(fmt(r[5]), 'num'), td(fmt(r[6]), 'num'), why));
      }
    }
    /** One table of a group: its heading, the first page of rows, and a button for the next page. */
    function section(g, host, kind, title) {
      var rows = g.view[kind];
      var all = g.data[kind];
      if (all.length === 0) return;
      var h = el('h3', null, title + ' (' + (rows.length === all.length ? fmt(all.length) : fmt(rows.length) + ' of ' + fmt(all.length)) + ')');
      host.appendChild(h);
      if (rows.length === 0) { host.appendChild(el('p', 'small', 'no row matches the filter')); return; }
      var wrap = el('div', 'scroll');
      var t;
      var body;
      if (kind === 'ns') {
        t = table(['Namespace, service accounts', 'Verdict', 'Last IRSA', 'Last Pod Identity', 'Soak', 'IRSA, ' + days + ' d', 'Pod Identity, ' + days + ' d', 'Why'], [5, 6]);
        body = el('tbody');
        t.appendChild(body);
      } else if (kind === 'st') {
        t = table(['Namespace', 'Service account', 'Role', 'Last IRSA', 'Last Pod Identity', 'Association', 'Next step']);
      } else {
        t = table(['Namespace', 'Service account', 'Role', 'Last IRSA', 'Next step']);
      }
      add(host, add(wrap, t));
      var footer = el('div');
      host.appendChild(footer);
      var page = function () {
        var from = g.shown[kind];
        var to = Math.min(rows.length, from + PAGE);
        if (kind === 'ns') namespaceItems(body, rows, from, to);
        else stragglerItems(t, rows, from, to, kind === 'cu');
        g.shown[kind] = to;
        footer.textContent = '';
        more(footer, rows.length - to, page);
      };
      page();
    }
    function render(g) {
      if (!g.rows) return;
      g.rendered = true;
      g.view = viewOf(g);
      g.shown = { st: 0, cu: 0, ns: 0 };
      g.rows.textContent = '';
      section(g, g.rows, 'st', 'Still on IRSA');
      section(g, g.rows, 'cu', 'Ready to clean up');
      section(g, g.rows, 'ns', 'Namespaces');
      if (g.data.ns.length + g.data.st.length + g.data.cu.length === 0) g.rows.appendChild(el('p', 'small', 'No namespace evidence in this cluster.'));
    }

    // Render a section once it is open and within a screen of the viewport.
    var near = typeof IntersectionObserver === 'function'
      ? new IntersectionObserver(function (entries) {
          entries.forEach(function (e) {
            var g = groups[Number(e.target.getAttribute('data-i'))];
            g.near = e.isIntersecting;
            if (g.near && g.details.open && !g.rendered) render(g);
          });
        }, { rootMargin: '800px 0px' })
      : null;
    groups.forEach(function (g) {
      if (!g.details) return;
      if (near) near.observe(g.details);
      else if (g.details.open) render(g);
      g.details.addEventListener('toggle', function () { if (g.details.open && !g.rendered && (!near || g.near)) render(g); });
    });

    var input = document.getElementById('cw-filter');
    var select = document.getElementById('cw-verdict');
    var status = document.getElementById('cw-status');
    function applyFilter() {
      filter.q = input.value.trim().toLowerCase();
      filter.verdict = select.value === '' ? -1 : Number(select.value);
      var active = filtering();
      var ns = 0, st = 0, cu = 0, clusters = 0;
      groups.forEach(function (g) {
        if (!g.details) return;
        var v = viewOf(g);
        var n = v.ns.length + v.st.length + v.cu.length;
        ns += v.ns.length; st += v.st.length; cu += v.cu.length;
        if (n > 0) clusters += 1;
        g.match.textContent = active ? plural(n, 'matching row') : '';
        g.details.classList.toggle('hidden', active && n === 0);
        var open = active ? n > 0 : g.wasOpen;
        if (g.details.open !== open) g.details.open = open;
        g.rendered = false;
        if (g.details.open && (!near || g.near)) render(g);
      });
      status.textContent = active
        ? plural(ns, 'namespace') + ', ' + plural(st, 'row') + ' still on IRSA and ' + plural(cu, 'row') + ' to clean up match, in ' + fmt(clusters) + ' of ' + plural(groups.length, 'cluster')
        : plural(groups.length, 'cluster') + '; type a name or pick a verdict to narrow the rows';
    }
    var timer = null;
    input.addEventListener('input', function () { clearTimeout(timer); timer = setTimeout(applyFilter, 150); });
    input.addEventListener('keydown', function (e) { if (e.key === 'Enter') { clearTimeout(timer); applyFilter(); } });
    select.addEventListener('change', applyFilter);
    document.getElementById('cw-expand').addEventListener('click', function () { groups.forEach(function (g) { if (g.details && !g.details.classList.contains('hidden')) g.details.open = true; }); });
    document.getElementById('cw-collapse').addEventListener('click', function () { groups.forEach(function (g) { if (g.details) g.details.open = false; }); });
    status.textContent = plural(groups.length, 'cluster') + '; type a name or pick a verdict to narrow the rows';

    // ---- copy buttons and chart buttons (one listener for the page) ----
    function selectText(node) {
      var range = document.createRange();
      range.selectNodeContents(node);
      var sel = window.getSelection();
      sel.removeAllRanges();
      sel.addRange(range);
    }
    function copied(button, ok) {
      button.textContent = ok ? 'Copied' : 'Press Ctrl+C';
      button.classList.toggle('done', ok);
      setTimeout(function () { button.textContent = 'Copy'; button.classList.remove('done'); }, 2000);
    }
    function copy(button) {
      var code = button.parentNode.querySelector('code');
      var text = code.textContent;
      var fallback = function () {
        selectText(code);
        var ok = false;
        try { ok = document.execCommand('copy'); } catch (e) { ok = false; }
        copied(button, ok);
      };
      if (navigator.clipboard && window.isSecureContext) navigator.clipboard.writeText(text).then(function () { copied(button, true); }, fallback);
      else fallback();
    }
    function toggleChart(button) {
      var row = button.closest('tr');
      var next = row.nextSibling;
      if (next && next.className === 'chart-row') {
        next.parentNode.removeChild(next);
        button.setAttribute('aria-expanded', 'false');
        return;
      }
      var cell = el('td');
      cell.colSpan = row.children.length;
      var box = el('div', 'chart-box');
      var canvas = el('canvas');
      canvas.setAttribute('role', 'img');
      canvas.setAttribute('aria-label', 'daily IRSA and Pod Identity assumes of ' + row.firstChild.firstChild.textContent);
      add(box, canvas);
      row.parentNode.insertBefore(add(el('tr', 'chart-row'), add(cell, box)), next);
      button.setAttribute('aria-expanded', 'true');
      namespaceChart(canvas, data.charts[Number(button.getAttribute('data-chart'))]);
    }
    document.addEventListener('click', function (e) {
      var t = e.target;
      if (!t || t.tagName !== 'BUTTON') return;
      if (t.classList.contains('copy')) copy(t);
      else if (t.classList.contains('chart')) toggleChart(t);
    });

    function resizeAll() { if (C) Object.keys(C.instances).forEach(function (k) { C.instances[k].resize(); }); }
    window.addEventListener('beforeprint', resizeAll);
    window.addEventListener('afterprint', resizeAll);
    root.setAttribute('data-charts', String(C ? Object.keys(C.instances).length : 0));
    if (window.performance && performance.mark) performance.mark('cw-ready');
    root.setAttribute('data-ready', '1');
  }
})();
`;
