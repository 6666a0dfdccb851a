// The web console at the head's /ui: one page, no framework, no build step. Nodes with live CPU, memory and
// network (the head's WebSocket /api/v1/watch pushes each node's summary as it arrives), the actor tree
// (namespace -> deployment/daemonset/job -> pods -> containers; configmaps, secrets) from the objects API,
// and a pod's detail: status, events, and its logs following live (the pod log WebSocket). Everything shown
// is text set through textContent, never HTML built from data. With ACL on, it asks for a token (kept in
// this tab's sessionStorage only) and sends it: `Authorization: Bearer` on fetches, and on WebSockets,
// which a browser cannot give headers, the subprotocol `base64url.bearer.authorization.nokube.io.<token>`
// beside `nokube.v1` (the one the head selects), never in a URL.
export const CONSOLE_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>nokube console</title>
<style>
  :root { --bg: #0f1419; --panel: #161c23; --line: #263040; --text: #d8dee9; --dim: #8a96a8; --ok: #4caf50; --warn: #e0b341; --bad: #e5534b; --accent: #5aa9e6; }
  * { box-sizing: border-box; }
  body { margin: 0; font: 14px/1.45 system-ui, sans-serif; background: var(--bg); color: var(--text); }
  header { display: flex; gap: 16px; align-items: baseline; padding: 10px 16px; border-bottom: 1px solid var(--line); }
  header h1 { font-size: 16px; margin: 0; }
  #conn { color: var(--dim); font-size: 12px; }
  main { display: grid; grid-template-columns: minmax(420px, 1fr) minmax(420px, 1fr); gap: 12px; padding: 12px; }
  section { background: var(--panel); border: 1px solid var(--line); border-radius: 6px; padding: 10px 12px; min-width: 0; }
  section h2 { font-size: 13px; text-transform: uppercase; letter-spacing: .05em; color: var(--dim); margin: 0 0 8px; }
  table { width: 100%; border-collapse: collapse; font-variant-numeric: tabular-nums; }
  th, td { text-align: left; padding: 4px 6px; border-bottom: 1px solid var(--line); white-space: nowrap; }
  th { color: var(--dim); font-weight: 500; font-size: 12px; }
  .bar { position: relative; width: 90px; height: 8px; background: var(--line); border-radius: 4px; display: inline-block; margin-right: 6px; vertical-align: middle; }
  .bar > i { position: absolute; left: 0; top: 0; bottom: 0; border-radius: 4px; background: var(--accent); }
  .ok { color: var(--ok); } .warn { color: var(--warn); } .bad { color: var(--bad); } .dim { color: var(--dim); }
  details { margin-left: 14px; } summary { cursor: pointer; padding: 2px 0; }
  .kind { color: var(--dim); font-size: 12px; margin-right: 4px; }
  .pod { cursor: pointer; } .pod:hover { text-decoration: underline; }
  #detail { grid-column: 1 / -1; }
  #log { background: #0b0f13; border: 1px solid var(--line); border-radius: 4px; height: 320px; overflow: auto; padding: 6px 8px; font: 12px/1.4 ui-monospace, monospace; white-space: pre-wrap; margin: 0; }
  #log .err { color: var(--bad); }
  #login { display: flex; gap: 6px; align-items: baseline; margin-left: auto; }
  #login[hidden], #logout[hidden] { display: none; }
  #login input { background: var(--bg); color: var(--text); border: 1px solid var(--line); border-radius: 4px; padding: 2px 6px; width: 28em; }
  #login button, #logout { background: var(--panel); color: var(--text); border: 1px solid var(--line); border-radius: 4px; cursor: pointer; }
  #auth-message { color: var(--warn); font-size: 12px; }
</style>
</head>
<body>
<header><h1>nokube</h1><span id="cluster" class="dim"></span><span id="conn">connecting…</span>
  <form id="login" hidden><span id="auth-message"></span><input id="token" type="password" autocomplete="off" placeholder="ACL token (nokube acl token create)"><button type="submit">Use token</button></form>
  <button id="logout" hidden>Forget token</button></header>
<main>
  <section id="nodes-section"><h2>Nodes</h2>
    <table id="nodes"><thead><tr><th>Node</th><th>State</th><th>CPU</th><th>Memory</th><th>Down</th><th>Up</th><th>Pods</th></tr></thead><tbody></tbody></table>
  </section>
  <section id="tree-section"><h2>Actors</h2><div id="tree" class="dim">loading…</div></section>
  <section id="detail" hidden><h2 id="detail-title">Pod</h2><div id="detail-status"></div>
    <h2>Events</h2><table id="events"><thead><tr><th>Type</th><th>Reason</th><th>Age</th><th>Message</th></tr></thead><tbody></tbody></table>
    <h2>Logs (following)</h2><pre id="log"></pre>
  </section>
</main>
<script>
'use strict';
const $ = (s) => document.querySelector(s);

// ---- the token: asked for when the head answers 401, kept for this tab only ----
let token = sessionStorage.getItem('nokube.token') || '';
const showAuth = () => { $('#logout').hidden = !token; };
function askToken(message) { $('#auth-message').textContent = message; $('#login').hidden = false; }
$('#login').onsubmit = (e) => { e.preventDefault(); token = $('#token').value.trim(); $('#token').value = ''; sessionStorage.setItem('nokube.token', token); $('#login').hidden = true; showAuth(); refresh(); };
$('#logout').onclick = () => { token = ''; sessionStorage.removeItem('nokube.token'); showAuth(); askToken('token forgotten'); if (ws) ws.close(); };
showAuth();
/** A refusal's message (401 asks for a token; 403 says which right is missing). */
class Refused extends Error { constructor(status, message) { super(message); this.status = status; } }
async function api(path) {
  const r = await fetch(path, { headers: token ? { authorization: 'Bearer ' + token } : {} });
  if (r.ok) return r.json();
  const body = await r.json().catch(() => ({}));
  if (r.status === 401) askToken(body.error || 'a token is needed');
  throw new Refused(r.status, body.error || path + ': HTTP ' + r.status);
}
const b64url = (t) => btoa(t).replace(/[+]/g, '-').replace(/[/]/g, '_').replace(/=+$/, '');
function socket(path) {
  const protocols = ['nokube.v1'];
  if (token) protocols.push('base64url.bearer.authorization.nokube.io.' + b64url(token));
  return new WebSocket(location.origin.replace(/^http/, 'ws') + path, protocols);
}
const el = (tag, text, cls) => { const e = document.createElement(tag); if (text !== undefined) e.textContent = String(text); if (cls) e.className = cls; return e; };
const bytes = (n) => { const u = ['B', 'KiB', 'MiB', 'GiB', 'TiB']; let i = 0; while (n >= 1024 && i < u.length - 1) { n /= 1024; i++; } return (i ? n.toFixed(1) : Math.round(n)) + ' ' + u[i]; };
const rate = (n) => bytes(n) + '/s';
const age = (t) => { const s = Math.max(0, Math.round((Date.now() - Date.parse(t)) / 1000)); return s < 120 ? s + 's' : s < 7200 ? Math.round(s / 60) + 'm' : Math.round(s / 3600) + 'h'; };
const bar = (ratio, label) => { const w = el('span'); const b = el('span', undefined, 'bar'); const i = el('i'); i.style.width = Math.min(100, Math.round(ratio * 100)) + '%'; i.style.background = ratio > 0.9 ? 'var(--bad)' : ratio > 0.7 ? 'var(--warn)' : 'var(--accent)'; b.append(i); w.append(b, el('span', label)); return w; };

// ---- nodes: members (state) + live figures ----
const members = new Map(); const figures = new Map();
function renderNodes() {
  const body = $('#nodes tbody'); body.replaceChildren();
  const names = [...new Set([...members.keys(), ...figures.keys()])].sort();
  for (const name of names) {
    const m = members.get(name); const f = figures.get(name);
    const tr = el('tr'); tr.dataset.node = name;
    tr.append(el('td', name));
    const state = m ? m.state : 'unknown';
    tr.append(el('td', state, state === 'alive' ? 'ok' : state === 'suspect' ? 'warn' : 'bad'));
    const cpu = el('td'); const mem = el('td');
    if (f) { cpu.append(bar(f.cpuRatio, (f.cpuRatio * 100).toFixed(0) + '% of ' + f.cores)); mem.append(bar(f.memoryTotalBytes ? f.memoryBytes / f.memoryTotalBytes : 0, bytes(f.memoryBytes))); }
    else { cpu.textContent = '–'; mem.textContent = '–'; }
    cpu.className = 'cpu'; mem.className = 'mem';
    tr.append(cpu, mem, el('td', f ? rate(f.rxBytesPerSecond) : '–', 'rx'), el('td', f ? rate(f.txBytesPerSecond) : '–', 'tx'), el('td', f ? f.pods : '–'));
    body.append(tr);
  }
}
let ws;
function connect() {
  ws = socket('/api/v1/watch');
  ws.onopen = () => { $('#conn').textContent = 'live'; $('#conn').className = 'ok'; };
  ws.onclose = () => { $('#conn').textContent = 'disconnected: retrying'; $('#conn').className = 'bad'; setTimeout(connect, 2000); };
  ws.onmessage = (ev) => {
    const msg = JSON.parse(ev.data);
    if (msg.kind === 'snapshot') { members.clear(); for (const m of msg.members) members.set(m.name, m); for (const f of msg.top || []) figures.set(f.node, f); }
    else if (msg.kind === 'member') members.set(msg.member.name, msg.member);
    else if (msg.kind === 'top') figures.set(msg.node.node, msg.node);
    else return;
    renderNodes();
  };
}

// ---- actor tree ----
const RES = ['namespaces', 'deployments', 'daemonsets', 'jobs', 'pods', 'configmaps', 'secrets'];
// A resource the token may not list is left out of the tree (and said so), not the whole tree.
const hidden = new Set();
async function list(res) {
  try { return (await api('/api/v1/objects/' + res)).items; }
  catch (err) { if (err.status !== 403) throw err; hidden.add(res); return []; }
}
function podState(p) {
  const cs = (p.status && p.status.containerStatuses) || [];
  const waiting = cs.map((c) => c.state && c.state.waiting && c.state.waiting.reason).find(Boolean);
  const phase = (p.status && p.status.phase) || 'Pending';
  const restarts = cs.reduce((n, c) => n + (c.restartCount || 0), 0);
  return { text: waiting || phase, cls: waiting ? 'bad' : phase === 'Running' || phase === 'Succeeded' ? 'ok' : phase === 'Failed' ? 'bad' : 'warn', restarts, cs };
}
function podNode(p) {
  const s = podState(p);
  const d = el('details'); const sum = el('summary');
  const name = el('span', p.metadata.name, 'pod'); name.dataset.pod = p.metadata.namespace + '/' + p.metadata.name;
  name.onclick = (e) => { e.preventDefault(); openPod(p.metadata.namespace, p.metadata.name); };
  sum.append(el('span', 'pod', 'kind'), name, el('span', ' ' + s.text, s.cls), el('span', ' on ' + (p.spec.nodeName || '–') + (s.restarts ? ', ' + s.restarts + ' restarts' : ''), 'dim'));
  d.append(sum);
  for (const c of p.spec.containers) {
    const st = s.cs.find((x) => x.name === c.name);
    const state = st && st.state ? Object.keys(st.state)[0] : 'waiting';
    const line = el('div'); line.style.marginLeft = '14px';
    line.append(el('span', 'container', 'kind'), el('span', c.name), el('span', ' ' + state, state === 'running' ? 'ok' : 'warn'), el('span', ' ' + c.image, 'dim'));
    d.append(line);
  }
  return d;
}
async function renderTree() {
  try {
    const [nss, deps, dss, jobs, pods, cms, secrets] = await Promise.all(RES.map(list));
    const tree = $('#tree'); const open = new Set([...tree.querySelectorAll('details[open]')].map((d) => d.dataset.key));
    const frag = document.createDocumentFragment();
    const keep = (d, key) => { d.dataset.key = key; if (open.has(key)) d.open = true; return d; };
    for (const ns of nss) {
      const n = ns.metadata.name; const inNs = (o) => (o.metadata.namespace || 'default') === n;
      const d = keep(el('details'), 'ns/' + n); const s = el('summary'); s.append(el('span', 'namespace', 'kind'), el('span', n)); d.append(s);
      const owned = new Set();
      for (const [kind, items] of [['deployment', deps], ['daemonset', dss], ['job', jobs]]) {
        for (const o of items.filter(inNs)) {
          const c = keep(el('details'), kind + '/' + n + '/' + o.metadata.name); const cs = el('summary');
          const mine = pods.filter((p) => inNs(p) && (p.metadata.ownerReferences || []).some((r) => r.uid === o.metadata.uid));
          for (const p of mine) owned.add(p.metadata.uid);
          cs.append(el('span', kind, 'kind'), el('span', o.metadata.name), el('span', ' ' + mine.length + ' pods', 'dim'));
          c.append(cs); for (const p of mine) c.append(podNode(p)); d.append(c);
        }
      }
      for (const p of pods.filter((p) => inNs(p) && !owned.has(p.metadata.uid))) d.append(podNode(p));
      for (const [kind, items] of [['configmap', cms], ['secret', secrets]])
        for (const o of items.filter(inNs)) { const line = el('div'); line.style.marginLeft = '14px'; line.append(el('span', kind, 'kind'), el('span', o.metadata.name)); d.append(line); }
      frag.append(d);
    }
    if (hidden.size) frag.append(el('div', 'not shown (this token may not list them): ' + [...hidden].join(', '), 'dim'));
    tree.className = ''; tree.replaceChildren(frag); hidden.clear();
  } catch (err) { $('#tree').textContent = 'could not read the objects: ' + err.message; }
}

// ---- pod detail: status, events, logs following ----
let logWs;
async function openPod(ns, name) {
  $('#detail').hidden = false; $('#detail-title').textContent = 'Pod ' + ns + '/' + name;
  const base = '/api/v1/objects/pods/' + encodeURIComponent(ns) + '/' + encodeURIComponent(name);
  const [pod, events] = await Promise.all([api(base), api(base + '/events').catch(() => ({ items: [] }))]);
  const s = podState(pod); const st = $('#detail-status'); st.replaceChildren(el('span', s.text, s.cls), el('span', ' on ' + (pod.spec.nodeName || '–') + ', ' + s.restarts + ' restarts', 'dim'));
  const eb = $('#events tbody'); eb.replaceChildren();
  for (const e of events.items || []) { const tr = el('tr'); tr.append(el('td', e.type, e.type === 'Warning' ? 'warn' : ''), el('td', e.reason), el('td', age(e.lastTimestamp || e.firstTimestamp || e.eventTime)), el('td', e.message)); eb.append(tr); }
  if (logWs) logWs.close();
  const log = $('#log'); log.replaceChildren();
  logWs = socket('/api/v1/namespaces/' + encodeURIComponent(ns) + '/pods/' + encodeURIComponent(name) + '/log?follow=true&tailLines=200');
  logWs.binaryType = 'arraybuffer';
  const dec = new TextDecoder();
  logWs.onmessage = (ev) => {
    const b = new Uint8Array(ev.data); const type = b[0]; const text = dec.decode(b.subarray(1));
    if (type === 3) { log.append(el('span', '\\n[stream ended' + (text ? ': ' + text : '') + ']\\n', 'dim')); return; }
    const atEnd = log.scrollTop + log.clientHeight >= log.scrollHeight - 4;
    log.append(el('span', text, type === 2 ? 'err' : ''));
    while (log.childNodes.length > 2000) log.firstChild.remove();
    if (atEnd) log.scrollTop = log.scrollHeight;
  };
}

function refresh() {
  api('/api/v1/status').then((s) => { $('#cluster').textContent = 'cluster ' + s.cluster + ' · head ' + s.node; document.title = 'nokube · ' + s.cluster; }).catch(() => {});
  if (ws) ws.close(); else connect();
  renderTree();
}
refresh();
setInterval(renderTree, 5000);
</script>
</body>
</html>
`;
