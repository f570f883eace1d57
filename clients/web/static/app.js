/* chweb's live view: the state chweb pushes (server-sent events, /api/events)
 * drawn as number cards and Chart.js charts, per underlying. Nothing here
 * polls: each `state` event redraws, each `fill` event adds a row. */
"use strict";

/* Digits shown per figure (the browser test reads them from data-digits). */
const DIGITS = {
  "risk.totals.delta": 3, "risk.totals.gamma": 6, "risk.totals.vega": 0, "risk.totals.theta": 0,
  "risk.netting.gross_gamma": 5, "risk.netting.netted_gamma": 5, "risk.netting.to_pool": 5,
  "risk.netting.ratio": 3, "risk.worst_loss": 0, "risk.loss_share": 2,
  "hedge.position": 3, "hedge.house_delta": 3, "hedge.orders": 0, "hedge.fees": 2,
  "hedge.slippage": 2, "hedge.funding": 2,
  "stats.fills.book": 0, "stats.fills.net": 0, "stats.fills.pool": 0,
  "stats.batches": 0, "stats.commit_ms": 3, "stats.commit_ms_mean": 3, "stats.connections": 0,
  "stats.requests": 0, "stats.errors": 0, "stats.seq": 0,
  "pools.nav": 0, "pools.nav_per_share": 6,
};

const COLORS = ["#2458c6", "#d9480f", "#2b8a3e", "#862e9c", "#c92a2a", "#0b7285", "#5f3dc4"];
let state = null;
let current = null;      /* the underlying shown */
const charts = {};

function fmt(key, v) {
  if (v === null || v === undefined || Number.isNaN(v)) return "–";
  if (typeof v !== "number") return String(v);
  const d = DIGITS[key] ?? 2;
  return v.toLocaleString("en-US", {minimumFractionDigits: d, maximumFractionDigits: d});
}

function utc(t) {
  return new Date(t * 1000).toISOString().slice(11, 19);
}

function get(obj, path) {
  return path.split(".").reduce((o, k) => (o == null ? undefined : o[k]), obj);
}

/* The values the cards show, by their data-k. */
function figures() {
  const u = state.underlyings?.[current] ?? {};
  const risk = u.risk ?? {}, hedge = u.hedge ?? {};
  const net = risk.netting ?? {};
  const stats = state.chd?.stats ?? {};
  const general = state.pools?.general ?? {};
  return {
    risk: {
      totals: risk.totals ?? {},
      netting: {...net, to_pool: net.gross_gamma - net.netted_gamma},
      worst_loss: risk.worst_loss,
      loss_share: general.nav ? 100 * risk.worst_loss / general.nav : null,
    },
    hedge,
    stats: {...stats, store: stats.halted ? "halted: writes refused" : "committing"},
    pools: general,
    chd: {software: state.chd?.hello ? `${state.chd.hello.server} ${state.chd.hello.software}` : ""},
  };
}

function renderCards() {
  const f = figures();
  const und = current ?? "";
  document.querySelectorAll("[data-k]").forEach(el => {
    const k = el.dataset.k;
    if (k === "status") return;
    if (k === "hedge.perp") {
      el.textContent = f.hedge.perp ? `${f.hedge.perp}, policy ${f.hedge.policy}, band ±${f.hedge.band} ${und}` : "";
      return;
    }
    el.textContent = fmt(k, get(f, k));
    if (k in DIGITS) el.dataset.digits = DIGITS[k];
  });
  document.querySelectorAll("[data-u]").forEach(el => {
    el.textContent = el.dataset.u === "und" ? und : `${und}/USD`;
  });
  const status = document.getElementById("status");
  if (state.connected) {
    status.textContent = `chd ${state.chd.req}: live, updated ${utc(state.updated)} UTC`;
    status.className = "status ok";
  } else {
    status.textContent = `chd ${state.chd?.req ?? ""}: not reachable (${state.error ?? "?"})`;
    status.className = "status down";
  }
}

function renderTabs() {
  const nav = document.getElementById("tabs");
  const names = Object.keys(state.underlyings ?? {});
  if (current === null || !names.includes(current)) current = names[0] ?? null;
  if (nav.dataset.names === names.join(",")) {
    nav.querySelectorAll("button").forEach(b => b.classList.toggle("on", b.textContent === current));
    return;
  }
  nav.dataset.names = names.join(",");
  nav.replaceChildren(...names.map(n => {
    const b = document.createElement("button");
    b.textContent = n;
    b.className = n === current ? "on" : "";
    b.onclick = () => { current = n; render(); };
    return b;
  }));
}

function chart(id, config) {
  if (!charts[id]) {
    config.options = {animation: false, maintainAspectRatio: false, responsive: true,
                      plugins: {legend: {labels: {boxWidth: 10, font: {size: 10}}}},
                      ...config.options};
    charts[id] = new Chart(document.getElementById(id), config);
  }
  return charts[id];
}

function axis(title, extra = {}) {
  return {title: {display: true, text: title, font: {size: 10}}, ticks: {font: {size: 10}}, ...extra};
}

function renderResidual() {
  const metric = document.getElementById("metric").value;
  const risk = state.underlyings?.[current]?.risk ?? {};
  const rows = risk.strikes ?? [];
  const strikes = [...new Set(rows.map(r => r.strike))].sort((a, b) => a - b);
  const expiries = [...new Set(rows.map(r => r.expiry))].sort();
  const units = {delta: current, gamma: `${current}/USD`, vega: "USD per 1.00 vol"};
  const datasets = expiries.map((e, i) => ({
    type: "bar", label: e.slice(0, 10), backgroundColor: COLORS[i % COLORS.length],
    data: strikes.map(k => rows.find(r => r.strike === k && r.expiry === e)?.[metric] ?? 0),
  }));
  /* the pool's per-strike limit, drawn when it is on the scale */
  const lim = {gamma: risk.limits?.pool_max_gamma_strike, vega: risk.limits?.pool_max_vega_strike}[metric];
  const top = Math.max(1e-12, ...datasets.flatMap(d => d.data.map(Math.abs)));
  let note = "";
  if (lim > 0 && lim <= 5 * top) {
    for (const s of [1, -1])
      datasets.push({type: "line", label: s > 0 ? "pool limit per strike" : "", borderColor: "#c92a2a",
                     borderDash: [4, 3], pointRadius: 0, data: strikes.map(() => s * lim)});
  } else if (lim > 0) {
    note = `pool limit ±${lim.toLocaleString("en-US")} per strike: beyond the scale`;
  }
  const c = chart("chart-residual", {type: "bar", data: {labels: [], datasets: []},
                                     options: {scales: {x: axis("strike, USD"), y: axis("")}}});
  c.data.labels = strikes.map(k => k.toLocaleString("en-US"));
  c.data.datasets = datasets;
  c.options.scales.y.title.text = `${metric}, ${units[metric]}`;
  document.getElementById("residual-note").textContent = note ? `house + pool; ${note}` : "house + pool";
  c.options.plugins.legend.labels.filter = item => item.text !== "";
  c.update("none");
}

function series(name, pick) {
  return (state.history ?? []).map(h => pick(h.underlyings?.[name] ?? {}, h));
}

function renderHistory() {
  const hist = state.history ?? [];
  const labels = hist.map(h => utc(h.t));
  const und = current;
  const n = chart("chart-netting", {type: "line", data: {labels: [], datasets: []}, options: {
    scales: {x: axis("time, UTC"), y: axis(`gamma, ${und}/USD`),
             r: axis("netting ratio", {position: "right", min: 0, max: 1, grid: {drawOnChartArea: false}})}}});
  n.data.labels = labels;
  n.data.datasets = [
    {label: "traded", data: series(und, u => u.gross_gamma), borderColor: COLORS[0], pointRadius: 0},
    {label: "netted internally", data: series(und, u => u.netted_gamma), borderColor: COLORS[2], pointRadius: 0},
    {label: "left to the pool", data: series(und, u => u.gross_gamma - u.netted_gamma), borderColor: COLORS[1], pointRadius: 0},
    {label: "ratio vs dealer", data: series(und, u => u.ratio), borderColor: "#868e96", borderDash: [3, 3],
     pointRadius: 0, yAxisID: "r"},
  ];
  n.options.scales.y.title.text = `gamma, ${und}/USD`;
  n.update("none");

  const h = chart("chart-hedge", {type: "line", data: {labels: [], datasets: []}, options: {
    scales: {x: axis("time, UTC"), y: axis("")}}});
  h.data.labels = labels;
  h.data.datasets = [
    {label: "perp position", data: series(und, u => u.position), borderColor: COLORS[0], pointRadius: 0},
    {label: "house net delta", data: series(und, u => u.house_delta), borderColor: COLORS[1], pointRadius: 0},
    {label: "band", data: series(und, u => u.band), borderColor: "#c92a2a", borderDash: [4, 3], pointRadius: 0},
    {label: "", data: series(und, u => -u.band), borderColor: "#c92a2a", borderDash: [4, 3], pointRadius: 0},
  ];
  h.options.scales.y.title.text = `delta, ${und}`;
  h.options.plugins.legend.labels.filter = item => item.text !== "";
  h.update("none");

  const f = chart("chart-fills", {type: "line", data: {labels: [], datasets: []}, options: {
    scales: {x: axis("time, UTC"), y: axis("fills since chd started", {beginAtZero: true})}}});
  f.data.labels = labels;
  f.data.datasets = ["book", "net", "pool"].map((s, i) => ({
    label: s === "net" ? "net (parity)" : s, data: hist.map(x => x.fills?.[s] ?? 0),
    borderColor: COLORS[i], pointRadius: 0}));
  f.update("none");

  const p = chart("chart-pool", {type: "line", data: {labels: [], datasets: []}, options: {
    scales: {x: axis("time, UTC"), y: axis("USD", {beginAtZero: true}),
             r: axis("NAV per share, USD", {position: "right", grid: {drawOnChartArea: false}})}}});
  p.data.labels = labels;
  p.data.datasets = [
    {label: "pool capital (NAV)", data: hist.map(x => x.nav), borderColor: COLORS[2], pointRadius: 0},
    {label: `worst scenario loss (${und})`, data: series(und, u => u.worst_loss), borderColor: COLORS[4], pointRadius: 0},
    {label: "NAV per share", data: hist.map(x => x.nav_per_share), borderColor: COLORS[0],
     borderDash: [3, 3], pointRadius: 0, yAxisID: "r"},
  ];
  p.update("none");
}

function fillRow(f, fresh) {
  const tr = document.createElement("tr");
  tr.dataset.trade = f.trade_id;
  if (fresh) {
    tr.className = "new";
    setTimeout(() => tr.classList.remove("new"), 3000);
  }
  for (const v of [utc(f.time), f.symbol, f.side, f.qty, fmt("fill.price", f.price), f.source]) {
    const td = document.createElement("td");
    td.textContent = v;
    tr.appendChild(td);
  }
  return tr;
}

function renderFills() {
  const body = document.querySelector("#fills tbody");
  body.replaceChildren(...(state.fills ?? []).slice(0, 50).map(f => fillRow(f, false)));
  const hedges = document.querySelector("#hedges tbody");
  hedges.replaceChildren(...(state.hedges ?? []).slice(0, 50).map(hedgeRow));
}

/* One hedge fill (the `hedge` event): qty and position in the underlying. */
function hedgeRow(h) {
  const tr = document.createElement("tr");
  tr.dataset.hedge = h.id ?? "";
  for (const v of [utc(h.time), h.underlying, fmt("hedge.position", h.qty), fmt("fill.price", h.price),
                   fmt("hedge.fees", h.fee), fmt("hedge.position", h.position)]) {
    const td = document.createElement("td");
    td.textContent = v;
    tr.appendChild(td);
  }
  return tr;
}

function render() {
  if (!state) return;
  renderTabs();
  renderCards();
  renderResidual();
  renderHistory();
  renderFills();
}

function connect() {
  const es = new EventSource("/api/events");
  es.addEventListener("state", e => { state = JSON.parse(e.data); render(); });
  es.addEventListener("fill", e => {
    const f = JSON.parse(e.data);
    const body = document.querySelector("#fills tbody");
    if (body.querySelector(`tr[data-trade="${f.trade_id}"]`)) return;
    body.prepend(fillRow(f, true));
    while (body.children.length > 50) body.lastChild.remove();
  });
  es.addEventListener("hedge", e => {
    const body = document.querySelector("#hedges tbody");
    body.prepend(hedgeRow(JSON.parse(e.data)));
    while (body.children.length > 50) body.lastChild.remove();
  });
  es.onerror = () => {
    const s = document.getElementById("status");
    s.textContent = "chweb: connection lost, reconnecting…";
    s.className = "status down";
  };
}

document.getElementById("metric").addEventListener("change", () => renderResidual());
connect();
