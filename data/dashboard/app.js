// app.js: tickhub's live dashboard (served by the server sink at /).
//
// It speaks only the public protocol: the WebSocket at /ws (rooms
// financial_data and system_status; subscribe_symbol for the chosen
// symbol's candles and indicators; price_alerts; set_options to conflate
// updates when there are many symbols) and REST (/api/v1/prices, /sources,
// /history, /candles, /alerts, /metrics). Updates only change the state; one
// requestAnimationFrame pass writes what changed to the page, so 500
// symbols × 10 updates/s cost one DOM pass per frame, and memory stays flat
// (one row per symbol, bounded logs, a chart series per timeframe shown).
//
// SPDX-License-Identifier: LGPL-2.1-or-later

const TOKEN_KEY = 'tickhub-token';
const LOG_MAX = 100;
const HISTORY_DAYS = { s: 1, m: 2, h: 60, d: 1000, w: 3000 };

const $ = (id) => document.getElementById(id);
const state = {
  token: sessionStorage.getItem(TOKEN_KEY),
  symbols: new Map(),     // symbol → row state
  sources: new Map(),     // name → {rank, state, reason, ttl, ageMs, ageAt, ticks}
  selected: null,
  timeframe: null,
  timeframes: [],
  ws: null,
  wsBackoff: 500,
  dirty: new Set(),
  frameRequested: false,
  system: null,
  simulated: false,
  chart: null,
  errors: [],
  stats: { frames: 0, renderMs: 0, rows: 0, messages: 0 },   // for the browser test
  conflateMs: 0,          // what the server said to set_options
  alerts: [],             // the rules this page sees (GET /api/v1/alerts)
  alertsFired: 0,
  notified: 0,            // browser notifications shown
  notifications: false,   // the user asked for browser notifications
};
window.tickhub = state;   // for the browser tests and the curious

// Formatting

function fmtPrice (v) {
  if (v === null || v === undefined || !isFinite(v)) return '—';
  const digits = Math.abs(v) >= 1000 ? 2 : Math.abs(v) >= 1 ? 2 : 6;
  return v.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}
function fmtAge (ms) {
  if (ms === null || ms === undefined || !isFinite(ms)) return '—';
  if (ms < 1000) return `${Math.max(0, Math.round(ms))} ms`;
  if (ms < 60000) return `${(ms / 1000).toFixed(1)} s`;
  if (ms < 3600000) return `${Math.floor(ms / 60000)} min`;
  return `${(ms / 3600000).toFixed(1)} h`;
}
function fmtBytes (b) {
  if (!isFinite(b)) return '—';
  return b > 1 << 20 ? `${(b / (1 << 20)).toFixed(1)} MiB` : `${(b / 1024).toFixed(0)} KiB`;
}

// REST with the token

async function api (path, init = {}) {
  const headers = { ...(init.headers || {}), ...(state.token ? { Authorization: `Bearer ${state.token}` } : {}) };
  const resp = await fetch(path, { ...init, headers, cache: 'no-store' });
  if (resp.status === 401) {
    askToken(state.token ? 'That token was refused.' : null);
    throw new Error('unauthorized');
  }
  return resp;
}

let authWaiters = [];
function askToken (error) {
  const dlg = $('auth');
  $('auth-error').hidden = !error;
  $('auth-error').textContent = error || '';
  if (!dlg.open) dlg.showModal();
  $('auth-token').focus();
  return new Promise((resolve) => authWaiters.push(resolve));
}
$('auth-form').addEventListener('submit', () => {
  state.token = $('auth-token').value.trim();
  sessionStorage.setItem(TOKEN_KEY, state.token);
  $('auth-token').value = '';
  const w = authWaiters; authWaiters = [];
  w.forEach((r) => r());
  start();
});

// Price rows

function rowState (symbol) {
  let s = state.symbols.get(symbol);
  if (!s) {
    s = { symbol, price: null, bid: null, ask: null, change: null, source: null, at: 0, exchangeAgeMs: 0,
          status: 'waiting', reason: 'no price yet', prev: null, el: null, flash: 0 };
    state.symbols.set(symbol, s);
    markDirty(symbol);
  }
  return s;
}

function setPrice (symbol, data, ageMs) {
  const s = rowState(symbol);
  s.prev = s.price;
  s.price = data.price; s.bid = data.bid; s.ask = data.ask; s.change = data.change;
  s.source = data.source;
  // Only symbols whose market has hours (US stocks) carry it.
  s.market = data.market || null;
  s.at = performance.now() - (ageMs || 0);
  const src = state.sources.get(data.source);
  if (src && !(src.seenAt > s.at)) src.seenAt = s.at;
  s.status = 'live'; s.reason = null;
  if (data.source === 'simulator' && !state.simulated) {
    state.simulated = true; $('demo-banner').hidden = false; $('alert-simulator-label').hidden = false;
  }
  markDirty(symbol);
}

function setUnavailable (symbol, code, reason) {
  const s = rowState(symbol);
  s.status = code || 'no_source';
  s.reason = reason || 'no fresh price';
  markDirty(symbol);
}

function ttlOf (source) {
  const src = state.sources.get(source);
  return src && isFinite(src.ttl) ? src.ttl * 1000 : 10000;
}

// A price older than its source's TTL is stale: shown as such, never as a
// fresh number (the server will say no_source or switch source).
function checkStale (now) {
  for (const s of state.symbols.values()) {
    // A closed market's last trade stays the price: the server keeps it.
    if (s.status === 'live' && s.market !== 'closed' && now - s.at > ttlOf(s.source)) {
      s.status = 'stale';
      s.reason = `${s.source}: no price for ${fmtAge(now - s.at)} (ttl ${fmtAge(ttlOf(s.source))})`;
      markDirty(s.symbol);
    }
  }
}

function markDirty (symbol) {
  state.dirty.add(symbol);
  if (!state.frameRequested) {
    state.frameRequested = true;
    requestAnimationFrame(render);
  }
}

function makeRow (s) {
  const tr = document.createElement('tr');
  tr.tabIndex = 0;
  tr.dataset.symbol = s.symbol;
  tr.setAttribute('aria-label', `${s.symbol}: show its chart`);
  tr.innerHTML = '<th scope="row" class="sym"></th><td class="num price"></td><td class="num change"></td>' +
    '<td class="num bid"></td><td class="num ask"></td><td class="src"><span class="badge"></span></td>' +
    '<td class="num age"></td>';
  const cells = tr.children;
  cells[0].textContent = s.symbol;
  s.el = { tr, price: cells[1], change: cells[2], bid: cells[3], ask: cells[4], badge: cells[5].firstChild, age: cells[6] };
  tr.addEventListener('click', () => select(s.symbol));
  tr.addEventListener('keydown', (e) => {
    if (e.key === 'Enter' || e.key === ' ') { e.preventDefault(); select(s.symbol); }
    else if (e.key === 'ArrowDown' && tr.nextElementSibling) { e.preventDefault(); tr.nextElementSibling.focus(); }
    else if (e.key === 'ArrowUp' && tr.previousElementSibling) { e.preventDefault(); tr.previousElementSibling.focus(); }
  });
  // Sorted by symbol: insert before the first greater one.
  const body = $('prices-body');
  let before = null;
  for (const other of body.children) if (other.dataset.symbol > s.symbol) { before = other; break; }
  body.insertBefore(tr, before);
}

// Writes only what changed (a DOM write costs style and layout).
function put (el, prop, value) {
  const key = `_${prop}`;
  if (el[key] !== value) { el[key] = value; el[prop] = value; }
}

// Rows out of view keep their state and are written when they scroll in:
// with 500 symbols only the few dozen on screen cost anything per frame.
const rowObserver = new IntersectionObserver((entries) => {
  for (const e of entries) {
    const s = state.symbols.get(e.target.dataset.symbol);
    if (!s) continue;
    s.visible = e.isIntersecting;
    if (s.visible) markDirty(s.symbol);
  }
}, { root: null, rootMargin: '200px' });

function renderRow (s, now) {
  if (!s.el) { makeRow(s); rowObserver.observe(s.el.tr); s.visible = true; }
  const e = s.el;
  const live = s.status === 'live';
  put(e.tr, 'className', `row-${s.status}` + (s.symbol === state.selected ? ' selected' : ''));
  if (e.tr.dataset.status !== s.status) e.tr.dataset.status = s.status;
  if (e.tr.dataset.reason !== (s.reason || '')) e.tr.dataset.reason = s.reason || '';
  if (!s.visible) return;
  if (live) {
    put(e.price, 'textContent', fmtPrice(s.price));
    put(e.price, 'className', 'num price' + (s.prev !== null && s.price > s.prev ? ' up' : s.prev !== null && s.price < s.prev ? ' down' : ''));
    put(e.change, 'textContent', s.change === null || !isFinite(s.change) ? '—' : `${s.change > 0 ? '+' : ''}${s.change.toFixed(2)} %`);
    put(e.change, 'className', 'num change ' + (s.change > 0 ? 'pos' : s.change < 0 ? 'neg' : ''));
    put(e.bid, 'textContent', fmtPrice(s.bid));
    put(e.ask, 'textContent', fmtPrice(s.ask));
    put(e.badge, 'textContent', s.source === 'simulator' ? 'SIMULATED' : s.source);
    put(e.badge, 'className', 'badge' + (s.source === 'simulator' ? ' sim' : ''));
    put(e.badge, 'title', s.source === 'simulator' ? 'made up by the simulator: not market data' : `source: ${s.source}`);
    put(e.age, 'textContent', s.market === 'closed' ? `market closed · ${fmtAge(now - s.at)}` : fmtAge(now - s.at));
    put(e.tr, 'title', s.market === 'closed' ? 'market closed: the last trade of the session' : '');
  } else {
    // No number that could pass for a price: the state and its reason.
    put(e.price, 'textContent', s.status === 'waiting' ? '…' : s.status === 'stale' ? 'STALE' : 'NO SOURCE');
    put(e.price, 'className', 'num price unavailable');
    put(e.change, 'textContent', ''); put(e.change, 'className', 'num change');
    put(e.bid, 'textContent', ''); put(e.ask, 'textContent', '');
    put(e.badge, 'textContent', s.status === 'stale' ? `stale: ${s.source}` : s.status.replace('_', ' '));
    put(e.badge, 'className', 'badge bad');
    put(e.badge, 'title', s.reason || '');
    put(e.age, 'textContent', s.at ? fmtAge(now - s.at) : '—');
    put(e.tr, 'title', s.reason || '');
  }
}

function render () {
  state.frameRequested = false;
  const now = performance.now();
  for (const symbol of state.dirty) {
    const s = state.symbols.get(symbol);
    if (s) renderRow(s, now);
  }
  state.stats.frames++;
  state.stats.rows += state.dirty.size;
  state.dirty.clear();
  state.stats.renderMs += performance.now() - now;
}

// Ages tick, stale prices are noticed, once a second (one frame).
setInterval(() => {
  const now = performance.now();
  checkStale(now);
  for (const s of state.symbols.values()) if (s.visible) state.dirty.add(s.symbol);
  if (!state.frameRequested) { state.frameRequested = true; requestAnimationFrame(render); }
  renderSources();
}, 1000);

$('filter').addEventListener('input', () => {
  const f = $('filter').value.trim().toUpperCase();
  for (const s of state.symbols.values()) if (s.el) s.el.tr.hidden = f !== '' && !s.symbol.includes(f);
});

// Sources and system

function renderSources () {
  const body = $('sources-body');
  const rows = [...state.sources.entries()].sort((a, b) => (a[1].rank || 99) - (b[1].rank || 99));
  const now = performance.now();
  body.replaceChildren(...rows.map(([name, s]) => {
    const tr = document.createElement('tr');
    tr.dataset.source = name;
    tr.className = `state-${s.state}`;
    // The newer of the last source_status and the last price seen here.
    let age = s.ageMs !== null && s.ageMs !== undefined ? s.ageMs + (now - s.ageAt) : null;
    if (s.seenAt && (age === null || now - s.seenAt < age)) age = now - s.seenAt;
    const ticks = (s.ticks !== undefined ? ` · ${s.ticks} ticks` : '') + (s.messages !== undefined ? ` · ${s.messages} msgs` : '');
    for (const text of [s.rank ?? '', name === 'simulator' ? 'simulator (made-up prices)' : name, s.state,
      fmtAge(age) + ticks, s.ttl !== undefined ? `${s.ttl} s` : '', s.reason || '']) {
      const td = document.createElement('td');
      td.textContent = text;
      tr.appendChild(td);
    }
    return tr;
  }));
}

function logSourceChange (d) {
  const li = document.createElement('li');
  const t = new Date().toLocaleTimeString();
  li.textContent = `${t} ${d.symbol}: ${d.from ?? 'none'} → ${d.to ?? 'none (no fresh source)'}`;
  const log = $('source-log');
  log.prepend(li);
  while (log.children.length > LOG_MAX) log.lastChild.remove();
}

function renderSystem (d) {
  const items = [
    ['connections', d.active_connections], ['symbols', d.monitored_symbols],
    ['streaming', d.streaming_active ? 'yes' : 'no'], ['uptime', fmtAge((d.uptime || 0) * 1000)],
    ['memory', fmtBytes(d.memory_usage)], ['CPU', isFinite(d.cpu_usage) ? `${d.cpu_usage.toFixed(1)} %` : '—'],
    ['status', d.status], ['rooms', d.rooms ? d.rooms.join(', ') : undefined],
  ].filter(([, v]) => v !== undefined && v !== null);
  $('system').replaceChildren(...items.flatMap(([k, v]) => {
    const dt = document.createElement('dt'); dt.textContent = k;
    const dd = document.createElement('dd'); dd.textContent = v; dd.dataset.key = k;
    return [dt, dd];
  }));
}

async function pollSources () {
  try {
    const r = await api('/api/v1/sources');
    if (!r.ok) return;
    const body = await r.json();
    for (const s of body.sources) {
      const cur = state.sources.get(s.name) || {};
      state.sources.set(s.name, { ...cur, rank: s.rank, state: s.state, reason: s.reason, ttl: s.ttl });
    }
    const m = await api('/metrics');
    if (m.ok) {
      const text = await m.text();
      for (const match of text.matchAll(/^tickhub_ticks_total\{source="([^"]+)"\} (\d+)/gm)) {
        const cur = state.sources.get(match[1]);
        if (cur) cur.ticks = Number(match[2]);
      }
      for (const match of text.matchAll(/^tickhub_feed_messages_total\{feed="([^"]+)"\} (\d+)/gm)) {
        const cur = state.sources.get(match[1]);
        if (cur) cur.messages = Number(match[2]);
      }
    }
    renderSources();
  } catch (e) { /* the connection status says it */ }
}

// The WebSocket

function setConn (text, ok) {
  const c = $('conn');
  c.textContent = text;
  c.className = 'conn ' + (ok ? 'conn-up' : 'conn-down');
}

function send (event, data) {
  if (state.ws && state.ws.readyState === WebSocket.OPEN) state.ws.send(JSON.stringify({ event, data }));
}

function connect () {
  const proto = location.protocol === 'https:' ? 'wss:' : 'ws:';
  const q = state.token ? `?token=${encodeURIComponent(state.token)}` : '';
  const ws = new WebSocket(`${proto}//${location.host}/ws${q}`);
  state.ws = ws;
  setConn('connecting…', false);
  ws.onopen = () => {
    state.wsBackoff = 500;
    setConn('live', true);
    send('join_room', { room: 'financial_data' });
    send('join_room', { room: 'system_status' });
    send('join_room', { room: 'price_alerts' });
    send('get_status', {});
    askConflation();
    listAlerts();
    if (state.selected) send('subscribe_symbol', { symbol: state.selected });
  };
  ws.onmessage = (m) => {
    let msg;
    try { msg = JSON.parse(m.data); } catch { return; }
    state.stats.messages++;
    onEvent(msg.event, msg.data || {});
  };
  ws.onclose = () => {
    if (state.ws !== ws) return;
    state.ws = null;
    setConn('disconnected: reconnecting', false);
    for (const s of state.symbols.values()) {
      if (s.status === 'live') { s.status = 'stale'; s.reason = 'the connection to tickhubd is down'; markDirty(s.symbol); }
    }
    setTimeout(start, state.wsBackoff);
    state.wsBackoff = Math.min(state.wsBackoff * 2, 10000);
  };
}

function onEvent (event, d) {
  switch (event) {
    case 'financial_data_update':
      setPrice(d.symbol, d.data, 0);
      break;
    case 'price_source_changed':
      logSourceChange(d);
      if (d.to === null) setUnavailable(d.symbol, 'no_source', `no fresh source (was ${d.from})`);
      break;
    case 'error':
      if (d.code === 'no_source' && d.symbol) setUnavailable(d.symbol, 'no_source', d.message);
      else if (d.code === 'no_alerts') alertsOff(d.message);
      break;
    case 'source_status': {
      const cur = state.sources.get(d.source) || {};
      state.sources.set(d.source, { ...cur, state: d.state, reason: d.reason, ageMs: d.last_message_age_ms, ageAt: performance.now() });
      renderSources();
      break;
    }
    case 'system_status_update':
    case 'server_status':
      state.system = d;
      renderSystem(d);
      break;
    case 'symbol_data':
      onSymbolData(d);
      break;
    case 'options_set':
      state.conflateMs = d.conflate_ms;
      break;
    case 'price_alert':
      onAlert(d);
      break;
    case 'alerts':
      onAlerts(d);
      break;
    case 'candle_update':
      onCandle(d);
      break;
    case 'technical_indicators_update':
      onIndicators(d);
      break;
    default:
      break;
  }
}

// Many symbols: the server conflates their updates for this page (one
// per symbol per interval, the latest): a row cannot show more anyway, and
// each message not sent is one less to parse on the page's main thread.
const CONFLATE_FROM = 50;   // symbols
function conflationFor (n) {
  return n < CONFLATE_FROM ? 0 : Math.min(2000, Math.max(200, 2 * n));
}
function askConflation () {
  const ms = conflationFor(state.symbols.size);
  if (ms !== state.conflateMs) send('set_options', { conflate_ms: ms });
}

// Alerts: rules listed over /ws (list_alerts → alerts; without the alerts
// plugin an error no_alerts, which hides the form), added and removed over
// REST (/api/v1/alerts, with the page's token, so the server's reason for a
// bad rule comes with its status); fired ones from the price_alerts room.

function listAlerts () {
  send('list_alerts', {});
}

function onAlerts (d) {
  $('alerts-note').hidden = true;
  $('alert-form').hidden = false;
  state.alerts = d.alerts || [];
  renderAlerts();
}

const errorText = (body, status) => (body && body.error && body.error.message) || `the server refused it (HTTP ${status})`;

function alertsOff (why) {
  $('alerts-note').textContent = `No alerts here: ${why}.`;
  $('alerts-note').hidden = false;
  $('alert-form').hidden = true;
  state.alerts = [];
  renderAlerts();
}

function fmtCooldown (s) {
  if (!isFinite(s)) return '';
  if (s % 3600 === 0 && s >= 3600) return `${s / 3600} h`;
  if (s % 60 === 0 && s >= 60) return `${s / 60} min`;
  return `${s} s`;
}

function renderAlerts () {
  $('alerts-body').replaceChildren(...state.alerts.map((a) => {
    const tr = document.createElement('tr');
    tr.dataset.id = a.id;
    for (const text of [a.symbol, a.condition + (a.once ? ' (once)' : '') + (a.simulator ? ' (simulated too)' : ''),
      fmtCooldown(Math.round(a.cooldown)), a.fired ?? 0, a.message || '']) {
      const td = document.createElement('td');
      td.textContent = text;
      tr.appendChild(td);
    }
    const td = document.createElement('td');
    // A rule of the configuration file, or another client's, is refused
    // by the server (forbidden): its message is shown.
    const b = document.createElement('button');
    b.type = 'button'; b.textContent = 'Remove'; b.className = 'alert-remove';
    b.setAttribute('aria-label', `Remove the alert ${a.symbol} ${a.condition}`);
    b.addEventListener('click', () => removeAlert(a.id));
    td.appendChild(b);
    tr.appendChild(td);
    return tr;
  }));
}

function alertError (text) {
  $('alert-error').textContent = text || '';
  $('alert-error').hidden = !text;
}

$('alert-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  const rule = { symbol: $('alert-symbol').value.trim().toUpperCase(), condition: $('alert-condition').value.trim() };
  const cooldown = $('alert-cooldown').value.trim();
  const message = $('alert-message').value.trim();
  if (cooldown) rule.cooldown = /^\d+(\.\d+)?$/.test(cooldown) ? Number(cooldown) : cooldown;
  if (message) rule.message = message;
  if ($('alert-simulator').checked) rule.simulator = true;
  try {
    const r = await api('/api/v1/alerts', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(rule) });
    const body = await r.json().catch(() => ({}));
    if (!r.ok) { alertError(errorText(body, r.status)); return; }
    alertError(null);
    $('alert-condition').value = ''; $('alert-message').value = '';
    listAlerts();
  } catch (err) {
    if (err.message !== 'unauthorized') alertError(`tickhubd cannot be reached (${err.message})`);
  }
});

async function removeAlert (id) {
  try {
    const r = await api(`/api/v1/alerts/${encodeURIComponent(id)}`, { method: 'DELETE' });
    const body = await r.json().catch(() => ({}));
    if (!r.ok) { alertError(errorText(body, r.status)); return; }
    alertError(null);
    listAlerts();
  } catch (err) {
    if (err.message !== 'unauthorized') alertError(`tickhubd cannot be reached (${err.message})`);
  }
}

let noticeTimer = 0;
function onAlert (d) {
  state.alertsFired++;
  const price = d.price !== null && d.price !== undefined ? ` at ${fmtPrice(d.price)}` : '';
  const text = `${d.symbol} ${d.condition}${price}${d.source ? ` (${d.source === 'simulator' ? 'SIMULATED' : d.source})` : ''}` +
    (d.message ? `: ${d.message}` : '');
  const li = document.createElement('li');
  li.dataset.id = d.id;
  li.textContent = `${new Date().toLocaleTimeString()} ${text}`;
  const log = $('alert-log');
  log.prepend(li);
  while (log.children.length > LOG_MAX) log.lastChild.remove();
  const notice = $('alert-notice');
  notice.textContent = `Alert: ${text}`;
  notice.hidden = false;
  clearTimeout(noticeTimer);
  noticeTimer = setTimeout(() => { notice.hidden = true; }, 8000);
  if (state.notifications && typeof Notification === 'function' && Notification.permission === 'granted') {
    try {
      new Notification(`${d.symbol} ${d.condition}`, { body: text, tag: `tickhub-${d.id}` });
      state.notified++;
    } catch { /* not here */ }
  }
  listAlerts();   // the times fired; a once rule is gone
}
$('alert-notice').addEventListener('click', () => { $('alert-notice').hidden = true; });

function renderNotify () {
  const supported = typeof Notification === 'function';
  const b = $('notify-enable');
  b.disabled = !supported || Notification.permission === 'denied';
  b.textContent = !supported ? 'Browser notifications: not supported'
    : Notification.permission === 'denied' ? 'Browser notifications: blocked by the browser'
      : `Browser notifications: ${state.notifications ? 'on' : 'off'}`;
  b.setAttribute('aria-pressed', String(state.notifications));
}
// Only when the user asks: the permission prompt comes from this click.
$('notify-enable').addEventListener('click', async () => {
  if (typeof Notification !== 'function') return;
  if (state.notifications) { state.notifications = false; renderNotify(); return; }
  const p = Notification.permission === 'granted' ? 'granted' : await Notification.requestPermission();
  state.notifications = p === 'granted';
  renderNotify();
});
renderNotify();

// The chart

const hasCharts = () => typeof window.LightweightCharts === 'object';

function chartOptions (el, height) {
  return {
    width: el.clientWidth || 600, height,
    layout: { background: { color: '#0f141a' }, textColor: '#c9d1d9' },
    grid: { vertLines: { color: '#1c2430' }, horzLines: { color: '#1c2430' } },
    timeScale: { timeVisible: true, secondsVisible: false, barSpacing: 10, rightOffset: 3, shiftVisibleRangeOnNewBar: true },
    rightPriceScale: { borderColor: '#2a3442' },
  };
}

function ensureChart () {
  if (state.chart || !hasCharts()) return state.chart;
  const LC = window.LightweightCharts;
  const el = $('chart');
  const chart = LC.createChart(el, chartOptions(el, 360));
  const candles = chart.addCandlestickSeries({ upColor: '#26a69a', downColor: '#ef5350', borderVisible: false,
    wickUpColor: '#26a69a', wickDownColor: '#ef5350' });
  const volume = chart.addHistogramSeries({ priceFormat: { type: 'volume' }, priceScaleId: 'volume', color: '#3d5a80' });
  chart.priceScale('volume').applyOptions({ scaleMargins: { top: 0.8, bottom: 0 } });
  state.chart = { chart, candles, volume, lines: new Map(), sub: {}, lastTime: 0, source: null };
  new ResizeObserver(() => {
    chart.applyOptions({ width: el.clientWidth });
    for (const s of Object.values(state.chart.sub)) s.chart.applyOptions({ width: el.clientWidth });
  }).observe(el);
  return state.chart;
}

function subChart (name) {
  const c = state.chart;
  if (!c.sub[name]) {
    const el = $(`chart-${name}`);
    el.hidden = false;
    const chart = window.LightweightCharts.createChart(el, chartOptions($('chart'), 140));
    c.sub[name] = { chart, lines: new Map() };
    // The panes follow the price chart's time range (their series are
    // shorter: logical indexes would not line up).
    c.chart.timeScale().subscribeVisibleTimeRangeChange((r) => {
      try { if (r) chart.timeScale().setVisibleRange(r); } catch { /* no data yet */ }
    });
  }
  return c.sub[name];
}

function select (symbol) {
  if (state.selected === symbol) return;
  if (state.selected) send('unsubscribe_symbol', { symbol: state.selected });
  const old = state.symbols.get(state.selected);
  state.selected = symbol;
  if (old) markDirty(old.symbol);
  markDirty(symbol);
  $('chart-title').textContent = `Chart: ${symbol}`;
  send('subscribe_symbol', { symbol });
  if (!hasCharts()) return;
  if (state.timeframe) loadHistory();
}

function onSymbolData (d) {
  if (d.symbol !== state.selected) return;
  const tfs = Object.keys(d.indicators || {});
  if (tfs.length && tfs.join() !== state.timeframes.join()) {
    state.timeframes = tfs;
    const box = $('timeframes');
    box.replaceChildren(...tfs.map((tf) => {
      const b = document.createElement('button');
      b.type = 'button'; b.textContent = tf; b.dataset.timeframe = tf;
      b.addEventListener('click', () => setTimeframe(tf));
      return b;
    }));
  }
  if (!state.timeframe || !tfs.includes(state.timeframe)) setTimeframe(tfs[0] || '1m');
  else loadHistory();
  const ind = d.indicators && d.indicators[state.timeframe];
  if (ind) onIndicators({ symbol: d.symbol, timeframe: state.timeframe, indicators: ind });
}

function setTimeframe (tf) {
  state.timeframe = tf;
  for (const b of $('timeframes').children) b.setAttribute('aria-pressed', String(b.dataset.timeframe === tf));
  loadHistory();
}

const toTime = (iso) => Math.floor(Date.parse(iso) / 1000);

let historySeq = 0;
async function loadHistory () {
  const symbol = state.selected;
  const tf = state.timeframe;
  if (!symbol || !tf) return;
  if (!hasCharts()) return;
  const c = ensureChart();
  const seq = ++historySeq;
  const days = HISTORY_DAYS[tf.slice(-1)] || 7;
  let bars = [];
  let source;
  const r = state.noStore ? null
    : await api(`/api/v1/history/${encodeURIComponent(symbol)}?timeframe=${tf}&days=${days}&format=columns`);
  if (r && r.status === 503) state.noStore = true;   // no_history: not asked again this load
  if (r && r.ok) {
    const b = await r.json();
    source = 'history';
    bars = b.t.map((t, i) => ({ time: Math.floor(t / 1000), open: b.open[i], high: b.high[i], low: b.low[i], close: b.close[i], volume: b.volume[i] }));
  } else {
    // No store (503 no_history): the candles the server keeps in memory.
    const r2 = await api(`/api/v1/candles/${encodeURIComponent(symbol)}?timeframe=${tf}&limit=500`);
    const b = r2.ok ? await r2.json() : { candles: [] };
    source = 'candles';
    bars = b.candles.map((k) => ({ time: toTime(k.start), open: k.open, high: k.high, low: k.low, close: k.close, volume: k.volume }));
  }
  if (seq !== historySeq) return;   // a newer request won
  c.candles.setData(bars.map(({ volume, ...k }) => k));
  c.volume.setData(bars.filter((k) => k.volume !== null && isFinite(k.volume))
    .map((k) => ({ time: k.time, value: k.volume, color: k.close >= k.open ? '#26a69a66' : '#ef535066' })));
  c.lastTime = bars.length ? bars[bars.length - 1].time : 0;
  c.source = source;
  for (const l of c.lines.values()) l.setData([]);
  for (const s of Object.values(c.sub)) for (const l of s.lines.values()) l.setData([]);
  // Bars of a readable width, the latest at the right edge.
  c.chart.timeScale().applyOptions({ barSpacing: 10 });
  c.chart.timeScale().scrollToRealTime();
  $('chart-note').textContent = `${symbol} ${tf}: ${bars.length} candles from ${source === 'history' ? 'the store (/api/v1/history)' : 'memory (/api/v1/candles; no store)'}, then live.`;
  $('chart').dataset.loaded = `${symbol}:${tf}:${bars.length}`;
}

function onCandle (d) {
  const c = state.chart;
  if (!c || d.symbol !== state.selected || d.timeframe !== state.timeframe) return;
  const k = d.candle;
  const time = toTime(k.start);
  if (time < c.lastTime) return;   // the chart only moves forward
  const newBar = time > c.lastTime;
  c.lastTime = time;
  c.candles.update({ time, open: k.open, high: k.high, low: k.low, close: k.close });
  if (k.volume !== null && isFinite(k.volume)) c.volume.update({ time, value: k.volume, color: k.close >= k.open ? '#26a69a66' : '#ef535066' });
  // A new bar: follow it unless the user scrolled back in time.
  if (newBar && c.chart.timeScale().scrollPosition() > -2) c.chart.timeScale().scrollToRealTime();
}

const LINE_COLORS = ['#f2c94c', '#56ccf2', '#bb6bd9', '#6fcf97', '#f2994a', '#eb5757'];

function onIndicators (d) {
  const c = state.chart;
  if (!c || d.symbol !== state.selected || d.timeframe !== state.timeframe || !d.indicators) return;
  const ind = d.indicators;
  const time = ind.timestamp ? toTime(ind.timestamp) : c.lastTime;
  if (!time) return;
  const lastClose = state.symbols.get(d.symbol)?.price;
  const legend = [];
  for (const [name, value] of Object.entries(ind)) {
    if (name === 'timestamp' || value === null || !isFinite(value)) continue;
    // Where it goes: RSI and the MACD family in their own panes; values on
    // the price's scale (SMA, EMA, Bollinger...) over the candles; others
    // only in the legend.
    let pane = null;
    if (/rsi/i.test(name)) pane = 'rsi';
    else if (/macd/i.test(name) || ind[`${name}_signal`] !== undefined || /_(signal|histogram)$/.test(name)) pane = 'macd';
    else if (lastClose && value > lastClose * 0.5 && value < lastClose * 2) pane = 'price';
    legend.push(`${name} ${Math.abs(value) >= 100 ? fmtPrice(value) : value.toPrecision(4)}`);
    if (!pane) continue;
    const host = pane === 'price' ? c : subChart(pane);
    let line = host.lines.get(name);
    if (!line) {
      const color = LINE_COLORS[host.lines.size % LINE_COLORS.length];
      line = /histogram/.test(name) ? host.chart.addHistogramSeries({ color: '#5c6b7f' })
        : host.chart.addLineSeries({ color, lineWidth: 1, priceLineVisible: false, lastValueVisible: false, title: name });
      host.lines.set(name, line);
    }
    try { line.update({ time, value }); } catch { /* older than the series' last point */ }
  }
  const range = c.chart.timeScale().getVisibleRange();
  for (const sub of Object.values(c.sub)) {
    try { if (range) sub.chart.timeScale().setVisibleRange(range); } catch { /* no data yet */ }
  }
  $('indicator-legend').textContent = legend.length ? `${d.timeframe}: ${legend.join(' · ')}` : '';
}

// Start

async function start () {
  try {
    const r = await api('/api/v1/prices');
    const body = await r.json();
    for (const [symbol, p] of Object.entries(body.prices || {})) setPrice(symbol, p, p.age_ms);
    for (const [symbol, u] of Object.entries(body.unavailable || {})) setUnavailable(symbol, u.code, u.message);
  } catch (e) {
    if (e.message === 'unauthorized') return;   // start() again once a token is given
    setConn('tickhubd cannot be reached: retrying', false);
    setTimeout(start, state.wsBackoff);
    state.wsBackoff = Math.min(state.wsBackoff * 2, 10000);
    return;
  }
  if ($('auth').open) $('auth').close();
  $('alert-symbols').replaceChildren(...[...state.symbols.keys()].sort().map((sym) => {
    const o = document.createElement('option'); o.value = sym; return o;
  }));
  if (state.simulated) $('alert-simulator-label').hidden = false;
  pollSources();
  if (!state.ws) connect();
}

if (!hasCharts()) {
  $('lib-note').textContent = 'The chart library (lightweight-charts) is not installed, so there are no charts; ' +
    'prices, sources and system work. Run npm ci in data/dashboard (./setup.sh does it).';
  $('lib-note').className = 'warn';
  $('chart').textContent = 'Charts need lightweight-charts, which is not installed.';
}
setInterval(pollSources, 3000);
start();
