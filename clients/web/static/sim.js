/*
 * sim.js - chweb's simulation view: loads a chsim report.json (from
 * /api/report, or a file the user opens) and draws its configurations side
 * by side and the equal-flow comparison of the clearinghouse, an AMM and a
 * dealer, with Chart.js 3 (window.Chart, served at /vendor/chart.js).
 *
 * The fields and their units are those clients/sim/sim_report.c and
 * sim_report_eq.c write; every number shown carries its unit.
 */
'use strict';

(function () {
  const $ = (id) => document.getElementById(id);
  const charts = [];

  /* ---------- numbers and units ---------- */

  /** value with d decimals, thousands grouped; null/NaN as "n/a"; no "-0" */
  function num(v, d) {
    if (v === null || v === undefined || typeof v !== 'number' || !isFinite(v)) return 'n/a';
    if (Math.abs(v) < 0.5 * Math.pow(10, -d)) v = 0;
    return v.toLocaleString('en-US', { minimumFractionDigits: d, maximumFractionDigits: d });
  }

  /** a number and its unit, as text */
  function withUnit(v, d, unit) {
    const s = num(v, d);
    if (s === 'n/a') return s;
    return unit === '%' ? s + ' %' : s + ' ' + unit;
  }

  /** axis ticks: 1.2M, 350k, 2.5 */
  function compact(v) {
    const a = Math.abs(v);
    if (a >= 1e9) return trim(v / 1e9) + 'G';
    if (a >= 1e6) return trim(v / 1e6) + 'M';
    if (a >= 1e4) return trim(v / 1e3) + 'k';
    if (a >= 100 || v === 0) return String(Math.round(v));
    return trim(v);
  }
  function trim(x) {
    return String(parseFloat(x.toPrecision(3)));
  }

  function esc(s) {
    return String(s).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }[c]));
  }

  /** a table cell: the number, then its unit in a muted span */
  function cell(v, d, unit, attrs) {
    const s = num(v, d);
    const u = s === 'n/a' || !unit ? '' : '<span class="u">' + esc(unit === '%' ? ' %' : ' ' + unit) + '</span>';
    return '<td' + (attrs || '') + ' data-value="' + (typeof v === 'number' ? v : '') + '">' + s + u + '</td>';
  }

  /* ---------- the report's fields ---------- */

  /** contracts as the report counts them: each customer side (book and parity matches twice) */
  function contracts(c) {
    const k = c.contracts || {};
    return 2 * ((k.book || 0) + (k.net || 0)) + (k.pool || 0);
  }
  function perContract(c) {
    const k = contracts(c);
    return k > 0 ? c.hedge_cost / k : 0;
  }
  function lots(c) {
    const k = c.contracts || {};
    return (k.book || 0) + (k.net || 0) + (k.pool || 0);
  }
  function pct(x) {
    return typeof x === 'number' ? 100 * x : undefined;
  }

  const PNL_PARTS = ['spread', 'delta', 'gamma', 'vega', 'theta', 'funding', 'fees', 'slippage', 'other'];
  const PNL_HELP = {
    spread: 'edge against the mark at trade time (half-spread, inventory premium, netting fee, delta term, tick rounding)',
    delta: 'options and perp against the spot',
    gamma: 'the spot move beyond delta (higher orders included)',
    vega: 'options revalued along vol',
    theta: 'options revalued along time (expiry included)',
    funding: 'received on the perp',
    fees: "the hedge's fees",
    slippage: "the hedge's slippage",
    other: "where the engine's marks differ from that revaluation (~0)",
  };

  /*
   * Columns of the configurations' tables. get(row, u) gives the value in
   * the unit shown; u is the row's underlying (hedge volume and deltas are in
   * its units).
   */
  const CFG_MAIN = [
    { h: 'contracts', unit: () => 'contracts', d: 0, get: contracts, help: 'customer lots, each customer side counted (a book or parity match twice)' },
    { h: 'internal fills', unit: () => '%', d: 1, get: (c) => pct(c.internal_share), help: 'lots filled by the book or parity netting, of all lots' },
    { h: 'netting ratio', unit: () => '%', d: 1, get: (c) => pct(c.netting_ratio), help: '1 - hedge volume / the delta a dealer would have sent (report: netting_ratio x 100)' },
    { h: 'hedge volume', unit: (u) => u, d: 1, get: (c) => c.hedge_volume, help: 'perp traded, in the underlying' },
    { h: 'hedge orders', unit: () => 'orders', d: 0, get: (c) => c.hedge_orders },
    { h: 'hedge cost', unit: () => 'USD', d: 0, get: (c) => c.hedge_cost, help: 'fees + slippage - funding received' },
    { h: 'per contract', unit: () => 'USD', d: 2, get: perContract, help: 'hedge cost / contracts' },
    { h: 'trade-by-trade cost', unit: () => 'USD', d: 0, get: (c) => c.trade_by_trade_hedge_cost, help: "hedging every fill's delta on its own, same venue" },
    { h: 'taker fees collected', unit: () => 'USD', d: 0, get: (c) => c.taker_fees_collected },
    { h: 'pool PnL', unit: () => 'USD', d: 0, get: (c) => c.pool_pnl, help: 'house + pool equity at the marks plus the hedge book' },
    { h: 'max drawdown', unit: () => 'USD', d: 0, get: (c) => c.max_drawdown, help: 'of the cumulative PnL' },
  ];
  const CFG_MORE = [
    { h: 'orders', unit: () => 'orders', d: 0, get: (c) => c.orders },
    { h: 'rejected', unit: () => 'orders', d: 0, get: (c) => c.rejected },
    { h: 'book fills', unit: () => 'fills', d: 0, get: (c) => (c.fills || {}).book },
    { h: 'parity fills', unit: () => 'fills', d: 0, get: (c) => (c.fills || {}).net },
    { h: 'pool fills', unit: () => 'fills', d: 0, get: (c) => (c.fills || {}).pool },
    { h: 'book lots', unit: () => 'contracts', d: 0, get: (c) => (c.contracts || {}).book },
    { h: 'parity lots', unit: () => 'contracts', d: 0, get: (c) => (c.contracts || {}).net },
    { h: 'pool lots', unit: () => 'contracts', d: 0, get: (c) => (c.contracts || {}).pool },
    { h: 'gross delta', unit: (u) => u, d: 1, get: (c) => c.gross_delta, help: 'what a trade-by-trade hedger would send' },
    { h: 'hedge fees', unit: () => 'USD', d: 0, get: (c) => c.hedge_fees },
    { h: 'hedge slippage', unit: () => 'USD', d: 0, get: (c) => c.hedge_slippage },
    { h: 'funding received', unit: () => 'USD', d: 0, get: (c) => c.hedge_funding_received },
    { h: 'option notional', unit: () => 'M USD', d: 1, get: (c) => (typeof c.option_notional === 'number' ? c.option_notional / 1e6 : undefined) },
    ...PNL_PARTS.map((p) => ({ h: 'PnL: ' + p, unit: () => 'USD', d: 0, get: (c) => (c.pnl ? c.pnl[p] : undefined), help: PNL_HELP[p] })),
    { h: 'final delta', unit: (u) => u, d: 2, get: (c) => (c.final || {}).delta, help: "the options' net delta at the end, before hedging" },
    { h: 'final gamma', unit: (u) => u + '/USD', d: 5, get: (c) => (c.final || {}).gamma },
    { h: 'final vega', unit: () => 'USD/vol pt', d: 0, get: (c) => (typeof (c.final || {}).vega === 'number' ? c.final.vega / 100 : undefined), help: 'report: USD per 1.00 of vol, shown per vol point (/100)' },
  ];

  /* The equal-flow metrics (sim_metric_fields), in the report's order. */
  const EQ_METRICS = [
    { k: 'contracts', h: 'contracts', unit: () => 'contracts', d: 0, help: 'customer lots, each side counted: the same for the three models' },
    { k: 'hedge_volume', h: 'hedge volume', unit: (u) => u, d: 1, help: 'perp traded' },
    { k: 'hedge_cost', h: 'hedge cost', unit: () => 'USD', d: 0, help: 'fees + slippage + expiry unwind cost + funding (positive: paid)' },
    { k: 'fees', h: 'hedge fees', unit: () => 'USD', d: 0, help: 'of the hedge orders other than expiry unwinds' },
    { k: 'slippage', h: 'hedge slippage', unit: () => 'USD', d: 0, help: 'of the hedge orders other than expiry unwinds' },
    { k: 'expiry_unwind_cost', h: 'expiry unwind cost', unit: () => 'USD', d: 0, help: "the policy's orders within a day of an expiry, up to the delta it removed" },
    { k: 'funding', h: 'funding paid', unit: () => 'USD', d: 0, help: 'paid (> 0) or received (< 0)' },
    { k: 'hedge_cost_per_contract', h: 'hedge cost per contract', unit: () => 'USD', d: 2 },
    { k: 'rebalancing_cost', h: 'rebalancing cost', unit: () => 'USD', d: 0, help: "fees and slippage of the policy's orders (the dealer's per-fill hedges excluded)" },
    { k: 'peak_capital', h: 'peak capital', unit: () => 'USD', d: 0, help: "the largest worst loss of options + perp on the margin's scenario grid" },
    { k: 'mean_abs_gamma', h: 'mean |gamma|', unit: (u) => u + '/USD', d: 5, help: 'mean over the steps of |gamma| of the book' },
    { k: 'mean_abs_vega', h: 'mean |vega|', unit: () => 'USD/vol pt', d: 0, scale: 0.01, help: 'mean over the steps of |vega|; report: USD per 1.00 of vol, shown per vol point (/100)' },
    { k: 'pool_pnl', h: 'PnL', unit: () => 'USD', d: 0, help: "the model's total PnL at the scenario's marks" },
    { k: 'lp_return_on_capital', h: 'return on capital', unit: () => '%', d: 3, scale: 100, help: 'PnL / the pool capital' },
    { k: 'max_drawdown', h: 'max drawdown', unit: () => 'USD', d: 0 },
    { k: 'customer_cost_per_contract', h: 'customer cost per contract', unit: () => 'USD', d: 2, help: '(price - mark) x side + taker fee, per contract' },
    { k: 'fill_ratio', h: 'fill ratio', unit: () => '%', d: 1, scale: 100, help: "contracts filled / ordered (the clearinghouse's)" },
  ];
  const MODELS = ['clearinghouse', 'amm', 'dealer'];
  const MODEL_NAME = { clearinghouse: 'clearinghouse', amm: 'AMM', dealer: 'dealer' };
  const BLOCKS = [
    { key: 'equal_flow', name: 'hedge policy P', long: "each model hedged by configuration 1's policy P" },
    { key: 'equal_flow_every_step', name: 'every model hedging every step', long: 'every model hedging every step (removes the band)' },
  ];

  const COLORS = ['#2458c6', '#e07b15', '#2e9a4a', '#c23b3b', '#7d55b8', '#8c5a42', '#d065b0', '#6b7482', '#1fa2b8'];
  const PNL_COLORS = {
    spread: '#2458c6', delta: '#1fa2b8', gamma: '#c23b3b', vega: '#7d55b8', theta: '#2e9a4a',
    funding: '#e0b415', fees: '#e07b15', slippage: '#8c5a42', other: '#9aa3ae',
  };

  /* ---------- charts ---------- */

  /* min-max whiskers over a bar: a dataset's lo[] and hi[] */
  const whiskers = {
    id: 'whiskers',
    afterDatasetsDraw(chart) {
      const ctx = chart.ctx;
      const horiz = chart.options.indexAxis === 'y';
      const vs = horiz ? chart.scales.x : chart.scales.y;
      chart.data.datasets.forEach((ds, i) => {
        if (!ds.lo || !chart.isDatasetVisible(i)) return;
        chart.getDatasetMeta(i).data.forEach((bar, j) => {
          if (typeof ds.lo[j] !== 'number' || ds.lo[j] === ds.hi[j]) return;
          const a = vs.getPixelForValue(ds.lo[j]);
          const b = vs.getPixelForValue(ds.hi[j]);
          const w = Math.min(6, ((horiz ? bar.height : bar.width) || 12) / 4);
          ctx.save();
          ctx.strokeStyle = '#1d2430';
          ctx.lineWidth = 1.3;
          ctx.beginPath();
          if (horiz) {
            ctx.moveTo(a, bar.y); ctx.lineTo(b, bar.y);
            ctx.moveTo(a, bar.y - w); ctx.lineTo(a, bar.y + w);
            ctx.moveTo(b, bar.y - w); ctx.lineTo(b, bar.y + w);
          } else {
            ctx.moveTo(bar.x, a); ctx.lineTo(bar.x, b);
            ctx.moveTo(bar.x - w, a); ctx.lineTo(bar.x + w, a);
            ctx.moveTo(bar.x - w, b); ctx.lineTo(bar.x + w, b);
          }
          ctx.stroke();
          ctx.restore();
        });
      });
    },
  };

  let chartSeq = 0;
  /** a <figure> with a caption and a canvas (id chart-...) in parent */
  function figure(parent, id, title, caption, height) {
    const fig = document.createElement('figure');
    fig.className = 'chart';
    fig.innerHTML = '<figcaption><b>' + esc(title) + '</b>' + (caption ? ' - ' + esc(caption) : '') +
      '</figcaption><div class="canvas"' + (height ? ' style="height:' + height + 'px"' : '') +
      '><canvas id="' + esc(id) + '" role="img" aria-label="' + esc(title) + '"></canvas></div>';
    parent.appendChild(fig);
    return fig.querySelector('canvas');
  }

  function slug(s) {
    return String(s).toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '') || 'x' + ++chartSeq;
  }

  /**
   * A bar chart. opts: labels, datasets, unit (the value axis' unit),
   * decimals (tooltips), horizontal, stacked, whiskers.
   */
  function barChart(canvas, opts) {
    if (typeof window.Chart !== 'function') return null;
    const horiz = !!opts.horizontal;
    const unit = opts.unit;
    const d = opts.decimals === undefined ? 0 : opts.decimals;
    const valueAxis = {
      stacked: !!opts.stacked,
      title: { display: true, text: opts.axisTitle || unit },
      ticks: { callback: (v) => compact(v) },
      grid: { color: (c) => (c.tick && c.tick.value === 0 ? '#6b7482' : '#e2e5ea') },
    };
    if (opts.min !== undefined) valueAxis.suggestedMin = opts.min;
    if (opts.max !== undefined) valueAxis.suggestedMax = opts.max;
    if (opts.valueMin !== undefined) valueAxis.min = opts.valueMin;
    if (opts.valueMax !== undefined) valueAxis.max = opts.valueMax;
    const catAxis = {
      stacked: !!opts.stacked,
      grid: { display: false },
      ticks: { autoSkip: false },
      title: opts.catTitle ? { display: true, text: opts.catTitle } : { display: false },
    };
    const cfg = {
      type: 'bar',
      data: { labels: opts.labels, datasets: opts.datasets },
      options: {
        indexAxis: horiz ? 'y' : 'x',
        responsive: true,
        maintainAspectRatio: false,
        animation: false,
        scales: horiz ? { x: valueAxis, y: catAxis } : { x: catAxis, y: valueAxis },
        plugins: {
          legend: { display: opts.datasets.length > 1, position: 'top', labels: { boxWidth: 12 } },
          tooltip: {
            callbacks: {
              label(ctx) {
                const ds = ctx.dataset;
                const v = horiz ? ctx.parsed.x : ctx.parsed.y;
                let s = (ds.label ? ds.label + ': ' : '') + withUnit(v, ds.decimals === undefined ? d : ds.decimals, ds.unit || unit);
                if (ds.lo && typeof ds.lo[ctx.dataIndex] === 'number' && ds.lo[ctx.dataIndex] !== ds.hi[ctx.dataIndex])
                  s += ' [' + num(ds.lo[ctx.dataIndex], d) + ', ' + num(ds.hi[ctx.dataIndex], d) + ']';
                return s;
              },
            },
          },
        },
      },
      plugins: opts.whiskers ? [whiskers] : [],
    };
    const chart = new window.Chart(canvas, cfg);
    charts.push(chart);
    return chart;
  }

  /** one bar colour per dataset; the reference (first) configuration darker */
  function shade(color, n, strongFirst) {
    const out = [];
    for (let i = 0; i < n; i++) out.push(strongFirst && i === 0 ? color : color + 'b3');
    return out;
  }

  function clearCharts() {
    while (charts.length) charts.pop().destroy();
  }

  /* ---------- status and loading ---------- */

  function status(text, kind) {
    const s = $('sim-status');
    s.textContent = text;
    s.className = 'status' + (kind ? ' ' + kind : '');
  }

  /** why an object is not a chsim report, or null */
  function notReport(r) {
    if (r === null || typeof r !== 'object' || Array.isArray(r)) return 'the JSON is not an object';
    if (typeof r.scenario !== 'object' || r.scenario === null) return 'no "scenario" object';
    if (!Array.isArray(r.configurations)) return 'no "configurations" list';
    if (r.configurations.length === 0) return 'the report has no configuration';
    for (const c of r.configurations)
      if (c === null || typeof c !== 'object' || typeof c.name !== 'string') return 'a configuration without a name';
    return null;
  }

  function showNothing(text, kind) {
    clearCharts();
    for (const id of ['sim-scenario', 'sim-configs', 'sim-equal']) $(id).hidden = true;
    $('sim-empty').hidden = false;
    status(text, kind);
  }

  function load(text, source) {
    let r;
    try {
      r = JSON.parse(text);
    } catch (e) {
      showNothing('not a chsim report: ' + source + ' is not JSON (' + e.message + ')', 'err');
      return;
    }
    const why = notReport(r);
    if (why) {
      showNothing('not a chsim report: ' + source + ': ' + why, 'err');
      return;
    }
    try {
      render(r, source);
    } catch (e) {
      showNothing('not a chsim report: ' + source + ': ' + e.message, 'err');
      console.warn(e); // eslint-disable-line no-console
      return;
    }
    const n = r.configurations.length;
    const us = underlyings(r);
    status('loaded ' + n + ' configuration' + (n === 1 ? '' : 's') +
      (us.length > 1 ? ' (rows of ' + us.length + ' underlyings: ' + us.join(', ') + ')' : ''), 'ok');
    $('sim-status').title = source;
  }

  async function fetchReport() {
    let resp;
    try {
      resp = await fetch('/api/report', { cache: 'no-store' });
    } catch (e) {
      showNothing('no report loaded: /api/report did not answer; open a report.json', 'err');
      return;
    }
    if (resp.status === 404 || resp.status === 204) {
      showNothing('no report loaded: chweb was started without --report DIR; open a report.json');
      return;
    }
    if (!resp.ok) {
      showNothing('no report loaded: /api/report answered ' + resp.status + '; open a report.json', 'err');
      return;
    }
    load(await resp.text(), 'report.json from the server');
  }

  function pickFile(ev) {
    const f = ev.target.files && ev.target.files[0];
    if (!f) return;
    status('reading ' + f.name + '...');
    const rd = new FileReader();
    rd.onload = () => load(String(rd.result), f.name);
    rd.onerror = () => showNothing('cannot read ' + f.name, 'err');
    rd.readAsText(f);
  }

  /* ---------- rendering ---------- */

  function render(r, source) {
    clearCharts();
    chartSeq = 0;
    $('sim-empty').hidden = true;
    renderScenario(r, source);
    renderConfigs(r);
    renderEqual(r);
    for (const id of ['sim-scenario', 'sim-configs', 'sim-equal']) $(id).hidden = false;
  }

  function card(label, value) {
    return '<div class="card"><span class="lbl">' + esc(label) + '</span><span class="val">' + esc(value) + '</span></div>';
  }

  function seedsOf(r) {
    return Array.isArray(r.seeds) ? r.seeds.map((s) => s.seed) : [r.scenario.seed];
  }

  function renderScenario(r, source) {
    const s = r.scenario;
    const seeds = seedsOf(r);
    const u = s.underlying || 'underlying';
    let html = '<h2>Scenario <span class="sub">' + esc(source) + '</span></h2><div class="cards">';
    html += card('period (UTC)', (s.start || '?') + ' to ' + (s.end || '?'));
    html += card('steps', num(s.steps, 0) + ' x ' + num(s.step_seconds, 0) + ' s');
    html += card(seeds.length > 1 ? 'seeds (' + seeds.length + ')' : 'seed', seeds.join(', '));
    html += card(u + ' spot', num(s.spot_start, 0) + ' to ' + num(s.spot_end, 0) + ' USD');
    if (typeof s.atm_vol_30d === 'number') html += card('30-day ATM vol', num(100 * s.atm_vol_30d, 1) + ' %');
    html += card('customer orders (first seed)', num(s.orders, 0) + ' orders');
    html += card('price / funding / smile', [s.price, s.funding, s.chain].join(' / '));
    html += card('configurations', num(r.configurations.length, 0));
    const s2 = s.second_underlying;
    if (s2 && typeof s2 === 'object') {
      html += card(s2.name + ' spot (generated)', num(s2.spot_start, 0) + ' to ' + num(s2.spot_end, 0) + ' USD');
      html += card(s2.name + ' correlation with ' + u, num(s2.realized_correlation, 3) + ' (target ' + num(s2.correlation, 2) + ')');
      html += card(s2.name + ' orders', num(s2.orders, 0) + ' orders');
      html += card(s2.name + ' hedge size scale', 'x ' + num(s2.hedge_size_scale, 2));
    }
    html += '</div>';
    if (r.configurations.some((c) => c.engine === 'chd'))
      html += '<p class="note">Engine: a running chd (chsim --chd). Not available in daemon mode: the PnL attribution, ' +
        'the trade-by-trade baseline and the option notional (shown as n/a).</p>';
    $('sim-scenario').innerHTML = html;
  }

  function underlyings(r) {
    const us = [];
    for (const c of r.configurations) {
      const u = c.underlying || r.scenario.underlying || '';
      if (!us.includes(u)) us.push(u);
    }
    return us;
  }

  function renderConfigs(r) {
    const body = $('sim-configs-body');
    body.innerHTML = '';
    const us = underlyings(r);
    const multi = us.length > 1;
    const seeds = seedsOf(r);
    const note = document.createElement('p');
    note.className = 'note';
    note.textContent = 'Configuration 1 (' + r.configurations[0].name + ') is the reference; its bars are drawn darker. ' +
      (seeds.length > 1 ? 'Figures of the first seed (' + seeds[0] + '); the across-seeds charts below give the mean and the min-max range. ' : '') +
      (multi ? 'Each configuration has a row per underlying; the charts are grouped by underlying (hedge volume and deltas in that underlying\'s units). ' : '') +
      'Hover a bar for its exact value; the tables below carry every number.';
    body.appendChild(note);

    for (const u of us) {
      const rows = r.configurations.map((c, i) => ({ c, i })).filter((x) => (x.c.underlying || r.scenario.underlying || '') === u);
      if (multi) {
        const h = document.createElement('h3');
        h.textContent = u + ' (' + rows.length + ' configurations)';
        body.appendChild(h);
      }
      configCharts(body, rows, u, multi ? slug(u) + '-' : '');
    }
    if (Array.isArray(r.seeds) && r.seeds.length > 1) seedCharts(body, r, us);
    configTables(body, r, multi);
  }

  function configCharts(body, rows, u, pre) {
    const grid = document.createElement('div');
    grid.className = 'grid';
    body.appendChild(grid);
    const labels = rows.map((x) => x.c.name);
    const n = rows.length;
    const h = Math.max(220, 60 + 24 * n);
    const single = (id, title, caption, unit, d, get, color, extra) => {
      const ds = [{ label: '', data: rows.map((x) => nz(get(x.c))), backgroundColor: shade(color, n, true), unit, decimals: d }];
      barChart(figure(grid, 'chart-' + pre + id, title + ' (' + unit + ')', caption, h),
        Object.assign({ labels, datasets: ds, unit, decimals: d, horizontal: true }, extra || {}));
    };

    barChart(figure(grid, 'chart-' + pre + 'hedge-cost', 'Hedge cost (USD)',
      'fees + slippage - funding received, beside the trade-by-trade cost: hedging every fill\'s delta on its own on the same venue', h), {
      labels, unit: 'USD', horizontal: true,
      datasets: [
        { label: 'hedge cost', data: rows.map((x) => nz(x.c.hedge_cost)), backgroundColor: shade(COLORS[0], n, true) },
        { label: 'trade-by-trade cost', data: rows.map((x) => nz(x.c.trade_by_trade_hedge_cost)), backgroundColor: '#9aa3ae' },
      ],
    });
    single('per-contract', 'Hedge cost per contract', 'hedge cost / contracts (each customer side counted)', 'USD', 2, perContract, COLORS[1]);
    single('hedge-volume', 'Hedge volume', 'perpetual traded to hedge the options\' delta', u, 1, (c) => c.hedge_volume, COLORS[4]);
    single('netting-ratio', 'Netting ratio', '1 - hedge volume / the delta a dealer would have sent; an unhedged pool scores 100 % by definition, read it with the PnL', '%', 1,
      (c) => pct(c.netting_ratio), COLORS[2], { valueMin: 0, valueMax: 100 });

    barChart(figure(grid, 'chart-' + pre + 'fill-share', 'Filled internally vs by the pool (% of lots)',
      'book matches and parity netting are internal fills; the pool takes the rest', h), {
      labels, unit: '%', decimals: 1, horizontal: true, stacked: true, valueMin: 0, valueMax: 100,
      datasets: [
        { label: 'book', data: rows.map((x) => share(x.c, 'book')), backgroundColor: COLORS[0] },
        { label: 'parity netting', data: rows.map((x) => share(x.c, 'net')), backgroundColor: COLORS[2] },
        { label: 'pool', data: rows.map((x) => share(x.c, 'pool')), backgroundColor: '#9aa3ae' },
      ],
    });
    barChart(figure(grid, 'chart-' + pre + 'contracts', 'Contracts filled (contracts)',
      'each customer side counted: a book or parity match fills two customers', h), {
      labels, unit: 'contracts', horizontal: true, stacked: true,
      datasets: [
        { label: 'book (both sides)', data: rows.map((x) => 2 * ((x.c.contracts || {}).book || 0)), backgroundColor: COLORS[0] },
        { label: 'parity (both sides)', data: rows.map((x) => 2 * ((x.c.contracts || {}).net || 0)), backgroundColor: COLORS[2] },
        { label: 'pool', data: rows.map((x) => (x.c.contracts || {}).pool || 0), backgroundColor: '#9aa3ae' },
      ],
    });
    barChart(figure(grid, 'chart-' + pre + 'pnl', 'Pool PnL and max drawdown (USD)',
      'house + pool equity at the engine\'s marks plus the hedge book; the drawdown is the worst fall of the cumulative PnL from a peak', h), {
      labels, unit: 'USD', horizontal: true,
      datasets: [
        { label: 'pool PnL', data: rows.map((x) => nz(x.c.pool_pnl)), backgroundColor: shade(COLORS[2], n, true) },
        { label: 'max drawdown', data: rows.map((x) => nz(x.c.max_drawdown)), backgroundColor: shade(COLORS[3], n, true) },
      ],
    });
    if (rows.some((x) => x.c.pnl)) {
      const ds = PNL_PARTS.map((p) => ({
        label: p, data: rows.map((x) => (x.c.pnl ? nz(x.c.pnl[p]) : null)), backgroundColor: PNL_COLORS[p], stack: 'parts',
      }));
      barChart(figure(grid, 'chart-' + pre + 'attribution', 'PnL attribution (USD)',
        'the parts add up to the pool PnL: spread earned, theta against gamma and vega, the hedge\'s fees, slippage and funding', h), {
        labels, unit: 'USD', horizontal: true, stacked: true, datasets: ds,
      });
    }
    barChart(figure(grid, 'chart-' + pre + 'fees', 'Fees (USD)',
      'taker fees the fee account collected from customers, against what the hedge paid in fees and slippage', h), {
      labels, unit: 'USD', horizontal: true,
      datasets: [
        { label: 'taker fees collected', data: rows.map((x) => nz(x.c.taker_fees_collected)), backgroundColor: COLORS[0] },
        { label: 'hedge fees paid', data: rows.map((x) => nz(x.c.hedge_fees)), backgroundColor: COLORS[1] },
        { label: 'hedge slippage', data: rows.map((x) => nz(x.c.hedge_slippage)), backgroundColor: COLORS[5] },
      ],
    });
  }

  function nz(v) {
    return typeof v === 'number' && isFinite(v) ? v : null;
  }

  function share(c, src) {
    const n = lots(c);
    return n > 0 ? (100 * ((c.contracts || {})[src] || 0)) / n : 0;
  }

  /** mean, min, max of f over the seeds, per configuration row */
  function acrossSeeds(r, i, f) {
    const v = r.seeds.map((s) => (s.configurations && s.configurations[i] ? f(s.configurations[i]) : NaN)).filter(isFinite);
    if (!v.length) return { mean: null, lo: null, hi: null };
    return { mean: v.reduce((a, b) => a + b, 0) / v.length, lo: Math.min(...v), hi: Math.max(...v) };
  }

  function seedCharts(body, r, us) {
    const h3 = document.createElement('h3');
    h3.textContent = 'Across ' + r.seeds.length + ' seeds (' + seedsOf(r).join(', ') + '): mean, whiskers from min to max';
    body.appendChild(h3);
    const grid = document.createElement('div');
    grid.className = 'grid';
    body.appendChild(grid);
    const rows = r.configurations.map((c, i) => ({ c, i })).filter((x) => x.i < (r.seeds[0].configurations || []).length);
    const labels = rows.map((x) => x.c.name + (us.length > 1 && !/\[.*\]$/.test(x.c.name) ? ' [' + x.c.underlying + ']' : ''));
    const h = Math.max(220, 60 + 24 * rows.length);
    const mk = (id, title, caption, unit, d, f, color) => {
      const st = rows.map((x) => acrossSeeds(r, x.i, f));
      barChart(figure(grid, 'chart-seeds-' + id, title + ' (' + unit + ')', caption, h), {
        labels, unit, decimals: d, horizontal: true, whiskers: true,
        min: Math.min(0, ...st.map((s) => s.lo).filter(isFinite)),
        max: Math.max(0, ...st.map((s) => s.hi).filter(isFinite)),
        datasets: [{ label: '', data: st.map((s) => s.mean), lo: st.map((s) => s.lo), hi: st.map((s) => s.hi), backgroundColor: shade(color, rows.length, true) }],
      });
    };
    mk('per-contract', 'Hedge cost per contract across seeds', 'unequal flow: each configuration\'s hedge cost / its contracts, per seed', 'USD', 2,
      (s) => (s.contracts > 0 ? s.hedge_cost / s.contracts : 0), COLORS[1]);
    mk('pnl', 'Pool PnL across seeds', 'house + pool + hedge book, per seed', 'USD', 0, (s) => s.pool_pnl, COLORS[2]);
    mk('hedge-cost', 'Hedge cost across seeds', 'fees + slippage - funding received, per seed', 'USD', 0, (s) => s.hedge_cost, COLORS[0]);
    mk('contracts', 'Contracts across seeds', 'each customer side counted, per seed', 'contracts', 0, (s) => s.contracts, '#6b7482');
  }

  /** a sortable table: cols of {h, unit(u), d, get, help} */
  function dataTable(rows, cols, opts) {
    const t = document.createElement('table');
    t.className = 'data';
    if (opts.id) t.id = opts.id;
    let head = '<thead><tr><th class="sortable" data-col="-1">configuration</th>';
    if (opts.multi) head += '<th>underlying</th>';
    if (opts.policy) head += '<th>hedge policy</th>';
    const unitOf = (col) => {
      const us = [...new Set(rows.map((x) => col.unit(x.u)))];
      return us.length === 1 ? us[0] : 'underlying units';
    };
    cols.forEach((col, j) => {
      head += '<th class="sortable" data-col="' + j + '"' + (col.help ? ' title="' + esc(col.help) + '"' : '') + '>' +
        esc(col.h) + '<br><span class="u">' + esc(unitOf(col)) + '</span></th>';
    });
    head += '</tr></thead>';
    let tb = '<tbody>';
    rows.forEach((x) => {
      tb += '<tr data-config="' + esc(x.c.name) + '" data-index="' + x.i + '"' + (x.i === 0 ? ' class="base"' : '') +
        '><td title="hedge policy: ' + esc(policyText(x.c)) + '">' + (x.i + 1) + '. ' + esc(x.c.name) + '</td>';
      if (opts.multi) tb += '<td>' + esc(x.u) + '</td>';
      if (opts.policy) tb += '<td>' + esc(policyText(x.c)) + '</td>';
      cols.forEach((col) => {
        /* the unit is in the header (several underlyings: in the cell too) */
        tb += cell(col.get(x.c), col.d, opts.multi && unitOf(col) === 'underlying units' ? col.unit(x.u) : '');
      });
      tb += '</tr>';
    });
    t.innerHTML = head + tb + '</tbody>';
    sortable(t, opts.multi, opts.policy);
    return t;
  }

  function policyText(c) {
    let s = c.hedge_policy || '';
    if (c.internal === false) s += ', no internal fills';
    else if (c.netting === false) s += ', no parity netting';
    if (c.dynamic_pricing === false) s += ', static pricing';
    if (c.vega_hedge) s += ', vega hedged (' + c.vega_hedge.mode + ')';
    if (Array.isArray(c.lps)) s += ', ' + (c.lps.length - 1) + ' tranches';
    return s;
  }

  /** click a header: sort by that column (again: the other way) */
  function sortable(t, multi, policy) {
    const skip = 1 + (multi ? 1 : 0) + (policy ? 1 : 0);
    t.querySelectorAll('th.sortable').forEach((th) => {
      th.addEventListener('click', () => {
        const j = Number(th.dataset.col);
        const dir = th.dataset.dir === 'asc' ? 'desc' : 'asc';
        t.querySelectorAll('th').forEach((o) => delete o.dataset.dir);
        th.dataset.dir = dir;
        const tbody = t.tBodies[0];
        const trs = [...tbody.rows];
        const key = (tr) => (j < 0 ? Number(tr.dataset.index) : parseFloat(tr.cells[skip + j].dataset.value));
        trs.sort((a, b) => {
          const ka = key(a), kb = key(b);
          const na = isNaN(ka), nb = isNaN(kb);
          if (na || nb) return na - nb;
          return dir === 'asc' ? ka - kb : kb - ka;
        });
        trs.forEach((tr) => tbody.appendChild(tr));
      });
    });
  }

  function configTables(body, r, multi) {
    const rows = r.configurations.map((c, i) => ({ c, i, u: c.underlying || r.scenario.underlying || '' }));
    const h = document.createElement('h3');
    h.textContent = 'Netting and hedging, every configuration (click a column to sort)';
    body.appendChild(h);
    const wrap = document.createElement('div');
    wrap.className = 'scroll';
    wrap.appendChild(dataTable(rows, CFG_MAIN, { multi, id: 'sim-config-table' }));
    body.appendChild(wrap);

    const det = document.createElement('details');
    det.innerHTML = '<summary>More figures: hedge policy, fills by source, hedge cost parts, PnL attribution, final Greeks</summary>';
    const w2 = document.createElement('div');
    w2.className = 'scroll';
    w2.appendChild(dataTable(rows, CFG_MORE, { multi, policy: true, id: 'sim-config-more' }));
    det.appendChild(w2);
    body.appendChild(det);

    const vega = rows.filter((x) => x.c.vega_hedge);
    if (vega.length) {
      const hv = document.createElement('h3');
      hv.textContent = 'Vega hedging (options traded at a simulated options venue when the residual vega leaves the band)';
      body.appendChild(hv);
      const vcols = [
        { h: 'band', unit: () => 'USD/vol pt', d: 0, get: (c) => c.vega_hedge.band / 100 },
        { h: 'option orders', unit: () => 'orders', d: 0, get: (c) => c.vega_hedge.orders },
        { h: 'option contracts', unit: () => 'contracts', d: 0, get: (c) => c.vega_hedge.contracts },
        { h: 'fees', unit: () => 'USD', d: 0, get: (c) => c.vega_hedge.fees },
        { h: 'spread paid', unit: () => 'USD', d: 0, get: (c) => c.vega_hedge.spread_cost },
        { h: 'premium paid', unit: () => 'USD', d: 0, get: (c) => c.vega_hedge.premium_paid },
        { h: 'largest residual vega', unit: () => 'USD/vol pt', d: 0, get: (c) => c.vega_hedge.max_abs_residual_vega / 100 },
        { h: 'pool PnL', unit: () => 'USD', d: 0, get: (c) => c.pool_pnl },
        { h: 'max drawdown', unit: () => 'USD', d: 0, get: (c) => c.max_drawdown },
      ];
      const w3 = document.createElement('div');
      w3.className = 'scroll';
      w3.appendChild(dataTable(vega, vcols, { multi }));
      body.appendChild(w3);
    }
    for (const x of rows.filter((y) => Array.isArray(y.c.lps) && y.c.lps.length > 1)) {
      const hl = document.createElement('h3');
      hl.textContent = 'Liquidity per strike: ' + x.c.name + ' (the LP capital split between the general pool and strike tranches)';
      body.appendChild(hl);
      const grid = document.createElement('div');
      grid.className = 'grid';
      body.appendChild(grid);
      const lps = x.c.lps;
      const names = lps.map((l, k) => l.name + ' (' + bandText(l, k) + ')');
      barChart(figure(grid, 'chart-lp-return-' + x.i, 'Return per LP (%)', 'NAV at the end / capital - 1', 200), {
        labels: names, unit: '%', decimals: 2, horizontal: true,
        datasets: [{ label: '', data: lps.map((l) => 100 * l.return), backgroundColor: COLORS[2] }],
      });
      barChart(figure(grid, 'chart-lp-contracts-' + x.i, 'Contracts taken per LP (contracts)', 'the pool side of trades at its strikes, pro rata to free capital', 200), {
        labels: names, unit: 'contracts', horizontal: true,
        datasets: [{ label: '', data: lps.map((l) => l.contracts), backgroundColor: COLORS[0] }],
      });
      const t = document.createElement('table');
      t.className = 'data';
      let s = '<thead><tr><th>LP</th><th>strikes<br><span class="u">USD</span></th><th>capital<br><span class="u">USD</span></th>' +
        '<th>contracts taken<br><span class="u">contracts</span></th><th>NAV<br><span class="u">USD</span></th><th>return<br><span class="u">%</span></th>' +
        '<th>max drawdown<br><span class="u">USD</span></th><th>highest utilisation<br><span class="u">%</span></th></tr></thead><tbody>';
      lps.forEach((l, k) => {
        s += '<tr><td>' + esc(l.name) + '</td><td>' + esc(bandText(l, k)) + '</td>' + cell(l.capital, 0) + cell(l.contracts, 0) +
          cell(l.nav, 0) + cell(100 * l.return, 3) + cell(l.max_drawdown, 0) +
          (k === 0 ? '<td>n/a</td>' : cell(100 * l.max_utilisation, 1)) + '</tr>';
      });
      t.innerHTML = s + '</tbody>';
      const w4 = document.createElement('div');
      w4.className = 'scroll';
      w4.appendChild(t);
      body.appendChild(w4);
    }
  }

  function bandText(l, k) {
    if (k === 0) return 'the rest';
    if (l.strike_hi >= 999999999999) /* CH_STRIKE_MAX: no upper edge */ return num(l.strike_lo, 0) + ' USD and above';
    return num(l.strike_lo, 0) + ' to ' + num(l.strike_hi, 0) + ' USD';
  }

  /* ---------- the equal-flow comparison ---------- */

  function summaryOf(block, model) {
    return (block.summary || []).find((m) => m.model === model) || {};
  }

  function renderEqual(r) {
    const body = $('sim-equal-body');
    body.innerHTML = '';
    const eq = r.equal_flow;
    if (!eq || typeof eq !== 'object') {
      body.innerHTML = '<p class="note warn">This report has no equal-flow section (an older chsim, or not written).</p>';
      return;
    }
    if (eq.available === false) {
      body.innerHTML = '<p class="note warn">Equal flow unavailable in this run: ' + esc(eq.reason || 'no reason given') + '.</p>';
      return;
    }
    const u = r.scenario.underlying || 'underlying';
    const blocks = BLOCKS.filter((b) => r[b.key] && Array.isArray(r[b.key].summary));
    const nSeeds = Array.isArray(eq.runs) ? eq.runs.length : 1;
    const seeds = Array.isArray(eq.runs) ? eq.runs.map((x) => x.seed) : [];
    const intro = document.createElement('div');
    intro.innerHTML =
      '<p class="note">Three models on the same customer fills (' + esc(u) + ', ' +
      (nSeeds > 1 ? 'mean of ' + nSeeds + ' seeds (' + esc(seeds.join(', ')) + '), whiskers from min to max' : 'seed ' + esc(seeds.join(', '))) +
      '). <b>clearinghouse</b>: configuration 1 (' + esc(r.configurations[0].name) + ') with its hedge policy P. ' +
      '<b>AMM</b>: for each customer order, the lots the clearinghouse filled for it, at the order\'s arrival, at the engine pool\'s own quote, hedged by P. ' +
      '<b>dealer</b>: each customer fill at its step and the clearinghouse\'s price, the other side taken and at once hedged alone on the perp, then its book rebalanced by P. ' +
      'One model book measures all three. Blue: hedge policy P; orange: every model hedging every step.</p>';
    body.appendChild(intro);
    body.appendChild(targetList(eq));

    const grid = document.createElement('div');
    grid.className = 'grid three';
    body.appendChild(grid);
    const labels = MODELS.map((m) => MODEL_NAME[m]);
    const mkChart = (key, title, caption, unit, d, scale) => {
      const sc = scale || 1;
      const datasets = blocks.map((b, bi) => {
        const st = MODELS.map((m) => summaryOf(r[b.key], m)[key] || {});
        return {
          label: b.name, unit, decimals: d,
          data: st.map((s) => (typeof s.mean === 'number' ? s.mean * sc : null)),
          lo: st.map((s) => (typeof s.min === 'number' ? s.min * sc : null)),
          hi: st.map((s) => (typeof s.max === 'number' ? s.max * sc : null)),
          backgroundColor: bi === 0 ? COLORS[0] : COLORS[1],
        };
      });
      const all = datasets.flatMap((ds) => ds.lo.concat(ds.hi)).filter((v) => typeof v === 'number');
      barChart(figure(grid, 'chart-eq-' + slug(key), title + ' (' + unit + ')', caption, 260), {
        labels, unit, decimals: d, datasets, whiskers: true,
        min: Math.min(0, ...all), max: Math.max(0, ...all),
      });
    };
    mkChart('hedge_volume', 'Hedge volume', 'perp each model traded to hedge the same fills', u, 1);
    mkChart('hedge_cost', 'Hedge cost', 'fees + slippage + expiry unwinds + funding paid, for the same fills', 'USD', 0);
    mkChart('hedge_cost_per_contract', 'Hedge cost per contract', 'hedge cost / the same contracts', 'USD', 2);
    mkChart('peak_capital', 'Peak capital', "the largest worst loss of options + perp on the margin's scenario grid (spot +-20 %, vol shocks)", 'USD', 0);
    mkChart('pool_pnl', 'PnL', "each model's total PnL at the scenario's marks", 'USD', 0);
    mkChart('customer_cost_per_contract', 'Customer cost per contract', 'what customers paid over the mark, taker fee included: the AMM charges its own quote', 'USD', 2);

    /* hedge cost by part, hedge policy P */
    if (blocks.length && blocks[0].key === 'equal_flow') {
      const parts = [['fees', 'fees', COLORS[1]], ['slippage', 'slippage', COLORS[5]], ['expiry_unwind_cost', 'expiry unwinds', COLORS[4]], ['funding', 'funding paid', '#e0b415']];
      barChart(figure(grid, 'chart-eq-hedge-cost-parts', 'Hedge cost by part, policy P (USD)',
        'the parts add up to the hedge cost; funding received is negative' + (nSeeds > 1 ? ' (means)' : ''), 260), {
        labels, unit: 'USD', stacked: true,
        datasets: parts.map(([k, name, color]) => ({
          label: name, backgroundColor: color, data: MODELS.map((m) => nz((summaryOf(r.equal_flow, m)[k] || {}).mean)),
        })),
      });
      mkChart('max_drawdown', 'Max drawdown', 'worst fall of each model\'s PnL from a peak', 'USD', 0);
      mkChart('lp_return_on_capital', 'Return on capital', 'PnL / the pool capital', '%', 3, 100);
    }
    if (nSeeds > 1 && Array.isArray(eq.runs)) {
      const g2 = document.createElement('div');
      g2.className = 'grid';
      body.appendChild(g2);
      const metricOf = (run, m, k) => ((run.models || []).find((x) => x.model === m) || {})[k];
      for (const [k, title, unit, d] of [['hedge_cost_per_contract', 'Hedge cost per contract, per seed (policy P)', 'USD', 2], ['pool_pnl', 'PnL per seed (policy P)', 'USD', 0]]) {
        barChart(figure(g2, 'chart-eq-seeds-' + slug(k), title + ' (' + unit + ')', 'each seed is a different customer flow; the three models see the same one', 240), {
          labels: eq.runs.map((x) => 'seed ' + x.seed), unit, decimals: d, catTitle: 'seed',
          datasets: MODELS.map((m, mi) => ({
            label: MODEL_NAME[m], data: eq.runs.map((x) => nz(metricOf(x, m, k))), backgroundColor: [COLORS[0], COLORS[1], COLORS[3]][mi],
          })),
        });
      }
    }
    const tg = document.createElement('div');
    tg.className = nSeeds > 1 ? '' : 'grid'; /* with [min, max] ranges: one under the other */
    body.appendChild(tg);
    for (const b of blocks) {
      const box = document.createElement('div');
      box.className = 'scroll';
      const h = document.createElement('h3');
      h.textContent = 'Equal flow, ' + b.long + (nSeeds > 1 ? ': mean [min, max] over ' + nSeeds + ' seeds' : '');
      box.appendChild(h);
      box.appendChild(eqTable(r[b.key], b.key, u, nSeeds > 1));
      tg.appendChild(box);
    }
  }

  function eqTable(block, key, u, range) {
    const t = document.createElement('table');
    t.className = 'data eq';
    t.id = 'sim-eq-table-' + key.replace(/_/g, '-');
    let s = '<thead><tr><th>metric</th>' + MODELS.map((m) => '<th data-model="' + m + '">' + esc(MODEL_NAME[m]) + '</th>').join('') + '</tr></thead><tbody>';
    for (const met of EQ_METRICS) {
      const sc = met.scale || 1;
      const unit = met.unit(u);
      s += '<tr data-metric="' + met.k + '"><td' + (met.help ? ' title="' + esc(met.help) + '"' : '') + '>' + esc(met.h) + ' <span class="u">' + esc(unit) + '</span></td>';
      for (const m of MODELS) {
        const st = summaryOf(block, m)[met.k] || {};
        const mean = typeof st.mean === 'number' ? st.mean * sc : undefined;
        const attrs = ' data-model="' + m + '" data-metric="' + met.k + '" data-block="' + key + '" data-scale="' + sc + '"';
        const txt = num(mean, met.d);
        let html = txt + (txt === 'n/a' ? '' : '<span class="u">' + esc(unit === '%' ? ' %' : ' ' + unit) + '</span>');
        if (range && typeof st.min === 'number' && st.min !== st.max)
          html += ' <span class="r">[' + num(st.min * sc, met.d) + ', ' + num(st.max * sc, met.d) + ']</span>';
        s += '<td' + attrs + ' data-value="' + (mean === undefined ? '' : mean) + '">' + html + '</td>';
      }
      s += '</tr>';
    }
    t.innerHTML = s + '</tbody>';
    return t;
  }

  /** the equal-flow targets (as report.md counts them), seeds meeting each */
  function targetList(eq) {
    const ul = document.createElement('ul');
    ul.className = 'targets';
    const runs = Array.isArray(eq.runs) ? eq.runs : [];
    if (!runs.length) return ul;
    const get = (run, m) => (run.models || []).find((x) => x.model === m) || {};
    let half = 0, perContract = 0, capital = 0;
    for (const run of runs) {
      const ch = get(run, 'clearinghouse'), amm = get(run, 'amm'), dl = get(run, 'dealer');
      half += dl.hedge_cost > 0 ? ch.hedge_cost <= 0.5 * dl.hedge_cost : ch.hedge_cost <= dl.hedge_cost;
      perContract += ch.hedge_cost_per_contract < amm.hedge_cost_per_contract;
      capital += ch.peak_capital < amm.peak_capital;
    }
    const n = runs.length;
    const li = (k, text) => '<li class="' + (k === n ? 'met' : 'missed') + '">' + esc(text) + ': ' + k + ' of ' + n + ' seed' + (n > 1 ? 's' : '') + '</li>';
    ul.innerHTML = li(half, "Target: clearinghouse hedge cost at most half the dealer's") +
      li(perContract, "Target: clearinghouse hedge cost per contract below the AMM's") +
      li(capital, "Target: clearinghouse peak capital below the AMM's");
    return ul;
  }

  /* ---------- start ---------- */

  function start() {
    if (typeof window.Chart === 'function') {
      window.Chart.defaults.font.family = 'system-ui, sans-serif';
      window.Chart.defaults.font.size = 11;
      window.Chart.defaults.color = '#1d2430';
    }
    $('sim-file').addEventListener('change', pickFile);
    if (typeof window.Chart !== 'function')
      status('Chart.js did not load (/vendor/chart.js): tables only');
    fetchReport();
  }

  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', start);
  else start();
})();
