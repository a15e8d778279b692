// waylog dashboard: one page, one client route per screen, data from the public HTTP API only.
// The read key (when the server's read scope is closed) is asked for on the first 401 and
// kept in sessionStorage; it is sent as `Authorization: Bearer <key>`, never put in a URL.
"use strict";

const KEY_STORE = "waylog.readKey";
const POLL_MS = 5000;
const FAILED = ["error", "timeout", "partial", "aborted"];
const WINDOWS = { "15m": 900, "1h": 3600, "6h": 21600, "24h": 86400 };
const SVG_NS = "http://www.w3.org/2000/svg";

// ---------- DOM helpers ----------

/** An element with attributes (`text`, `class`, `on<event>` handlers, others as attributes). */
function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  return fill(el, attrs, children);
}

/** An SVG element, same rules as `h`. */
function s(tag, attrs, ...children) {
  return fill(document.createElementNS(SVG_NS, tag), attrs, children);
}

function fill(el, attrs, children) {
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === "text") el.textContent = String(v);
    else if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else el.setAttribute(k, v === true ? "" : String(v));
  }
  for (const c of children.flat(Infinity)) {
    if (c === undefined || c === null || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

const link = (href, text, attrs) => h("a", Object.assign({ href, text }, attrs || {}));
const traceLink = (id) => link("/ui/explain/" + encodeURIComponent(id), id, { class: "mono" });
const badge = (word) => h("span", { class: "badge " + word, text: word });
const num = (v) => (v === null || v === undefined ? "–" : String(v));
const pct = (share) => (share * 100).toFixed(1) + "%";

/** A family `{service, step, error_code}` in display form (reads §2.1). */
function familyText(f) {
  const esc = (p) => String(p).replace(/\\/g, "\\\\").replace(/:/g, "\\:");
  return [f.service, f.step, f.error_code].map(esc).join(":");
}

/** RFC 3339 text (up to 9 fraction digits) to epoch milliseconds (fractional). */
function parseTs(text) {
  const m = /^(.*T\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)$/.exec(text || "");
  if (!m) return NaN;
  const whole = Date.parse(m[1] + m[3]);
  const frac = m[2] ? Number("0." + m[2]) * 1000 : 0;
  return whole + frac;
}

function ago(text) {
  const ms = Date.now() - parseTs(text);
  if (!isFinite(ms)) return text || "";
  const sec = Math.max(0, Math.round(ms / 1000));
  if (sec < 90) return sec + "s ago";
  if (sec < 5400) return Math.round(sec / 60) + "m ago";
  return Math.round(sec / 3600) + "h ago";
}
const when = (text) => h("time", { datetime: text, title: text, text: ago(text) });

// ---------- API ----------

class ApiError extends Error {
  constructor(status, code, message, detail) {
    super(message);
    this.status = status;
    this.code = code;
    this.detail = detail || "";
  }
}

let pendingKey = null;

/** Ask for the read key once (concurrent 401s share one prompt); null when cancelled. */
function askKey(reason) {
  if (pendingKey) return pendingKey;
  const dialog = document.getElementById("key-dialog");
  const input = document.getElementById("key-input");
  document.getElementById("key-reason").textContent = reason;
  input.value = "";
  pendingKey = new Promise((resolve) => {
    const done = (key) => {
      form.removeEventListener("submit", onSubmit);
      cancel.removeEventListener("click", onCancel);
      dialog.removeEventListener("cancel", onCancel);
      if (dialog.open) dialog.close();
      pendingKey = null;
      resolve(key);
    };
    const form = document.getElementById("key-form");
    const cancel = document.getElementById("key-cancel");
    const onSubmit = (ev) => {
      ev.preventDefault();
      done(input.value.trim() || null);
    };
    const onCancel = (ev) => {
      ev.preventDefault();
      done(null);
    };
    form.addEventListener("submit", onSubmit);
    cancel.addEventListener("click", onCancel);
    dialog.addEventListener("cancel", onCancel);
    dialog.showModal();
    input.focus();
  });
  return pendingKey;
}

let keyDeclined = false;

/** Call the API; on 401 ask for the key (unless declined) and retry once. */
async function api(path, opts) {
  opts = opts || {};
  for (let attempt = 0; ; attempt++) {
    const headers = Object.assign({}, opts.headers || {});
    const key = sessionStorage.getItem(KEY_STORE);
    if (key) headers.Authorization = "Bearer " + key;
    let resp;
    try {
      resp = await fetch(path, { method: opts.method || "GET", headers, body: opts.body });
    } catch (e) {
      throw new ApiError(0, "network_error", "the server did not answer", String(e));
    }
    if (resp.status === 401 && attempt === 0 && !keyDeclined) {
      const reason = key ? "The key was refused; enter another." : "This server's read API needs a key.";
      const fresh = await askKey(reason);
      if (fresh) {
        sessionStorage.setItem(KEY_STORE, fresh);
        continue;
      }
      keyDeclined = true;
    }
    if (!resp.ok) throw await errorOf(resp);
    if (opts.as === "blob") return resp.blob();
    if (opts.as === "text") return resp.text();
    return resp.json();
  }
}

async function errorOf(resp) {
  let body = null;
  try {
    body = await resp.json();
  } catch (_) {
    body = null;
  }
  const e = (body && body.error) || {};
  return new ApiError(resp.status, e.code || "http_" + resp.status, e.message || resp.statusText, e.detail);
}

const postQuery = (sql, limit, format) =>
  api("/v1/query", {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ sql, limit: limit || 1000, format: format || "json" }),
    as: format === "csv" ? "blob" : "json",
  });

/** An inline error: the API's code, message and detail. */
function errorBox(e) {
  const code = e instanceof ApiError ? e.code : "client_error";
  const box = h("div", { class: "error", role: "alert" }, h("code", { text: code }), e.message || String(e));
  if (e.detail) box.append(h("span", { class: "muted", text: " — " + e.detail }));
  return box;
}

/** Run `load` into `target`, replacing it with an inline error when it throws. */
async function guarded(target, load) {
  try {
    await load();
  } catch (e) {
    if (!live()) return;
    target.replaceChildren(errorBox(e));
  }
}

// ---------- router ----------

let generation = 0;
let timers = [];
let current = 0;
/** Is the screen that started this work still shown? */
function live(gen) {
  return (gen === undefined ? current : gen) === generation;
}
function every(ms, fn) {
  timers.push(setInterval(fn, ms));
}

const ROUTES = [
  [/^\/ui\/?$/, "incidents", incidentsScreen],
  [/^\/ui\/incidents\/?$/, "incidents", incidentsScreen],
  [/^\/ui\/incidents\/([^/]+)\/?$/, "incidents", incidentScreen],
  [/^\/ui\/errors\/?$/, "errors", errorsScreen],
  [/^\/ui\/explain\/?$/, "explain", explainForm],
  [/^\/ui\/explain\/([^/]+)\/?$/, "explain", explainScreen],
  [/^\/ui\/blast\/?$/, "blast", blastScreen],
  [/^\/ui\/traces\/?$/, "traces", tracesScreen],
  [/^\/ui\/search\/?$/, "search", searchScreen],
  [/^\/ui\/sql\/?$/, "sql", sqlScreen],
];

function navigate(href, replace) {
  if (replace) history.replaceState(null, "", href);
  else history.pushState(null, "", href);
  render();
}

function render() {
  timers.forEach(clearInterval);
  timers = [];
  generation += 1;
  current = generation;
  const main = document.getElementById("main");
  main.replaceChildren();
  const url = new URL(location.href);
  let matched = null;
  for (const [re, screen, fn] of ROUTES) {
    const m = re.exec(url.pathname);
    if (m) {
      matched = [screen, fn, m.slice(1).map(decodeURIComponent)];
      break;
    }
  }
  document.querySelectorAll("nav a").forEach((a) => {
    if (matched && a.dataset.screen === matched[0]) a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");
  });
  if (!matched) {
    main.append(h("h1", { text: "Not found" }), h("p", {}, "No screen at this address. ", link("/ui/incidents", "Incidents")));
    return;
  }
  document.title = "waylog · " + matched[0];
  const [, fn, args] = matched;
  Promise.resolve(fn(main, url.searchParams, ...args)).catch((e) => {
    if (live()) main.append(errorBox(e));
  });
}

/** Keep the current screen's state in its URL (shareable), without a new history entry. */
function setParams(params) {
  const url = new URL(location.href);
  url.search = "";
  for (const [k, v] of Object.entries(params)) if (v) url.searchParams.set(k, v);
  history.replaceState(null, "", url.pathname + url.search);
}

function windowSelect(value) {
  const sel = h("select", { name: "window", id: "window" });
  for (const w of Object.keys(WINDOWS)) sel.append(h("option", { value: w, text: w, selected: w === value }));
  return sel;
}

const field = (label, input) => h("label", {}, label, input);
const textInput = (name, value, placeholder) =>
  h("input", { name, id: name, value: value || "", placeholder: placeholder || "", autocomplete: "off" });

/** A filter form whose submit puts its fields in the URL and calls `run`. */
function filterForm(fields, run, buttonText) {
  const form = h("form", { class: "filters", role: "search" }, fields, h("button", { type: "submit", text: buttonText || "Show" }));
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    const params = Object.fromEntries(new FormData(form).entries());
    setParams(params);
    run(params);
  });
  return form;
}

// ---------- charts ----------

/** Horizontal paired bars: rows of {label, a, b} with values in [0, max]. */
function pairedBars(rows, max, names, fmt) {
  const rowH = 34;
  const labelW = 220;
  const width = 720;
  const barW = width - labelW - 70;
  const svg = s("svg", { class: "chart", viewBox: `0 0 ${width} ${rows.length * rowH + 6}`, width: "100%", role: "img" });
  svg.append(s("title", { text: names.join(" vs ") }));
  rows.forEach((r, i) => {
    const y = i * rowH + 4;
    svg.append(s("text", { x: 0, y: y + 15, text: r.label.length > 34 ? r.label.slice(0, 33) + "…" : r.label }));
    [["a", "fail"], ["b", "base"]].forEach(([k, cls], j) => {
      const v = Number(r[k]) || 0;
      const w = max > 0 ? Math.max(1, (v / max) * barW) : 1;
      const by = y + j * 13;
      svg.append(s("rect", { class: cls, x: labelW, y: by, width: w.toFixed(1), height: 11 }, s("title", { text: `${names[j]}: ${fmt(v)}` })));
      svg.append(s("text", { x: labelW + w + 6, y: by + 10, text: fmt(v) }));
    });
  });
  return h("div", {}, svg, h("div", { class: "legend" }, h("span", { class: "sw fail" }), names[0], h("span", { class: "sw base" }), names[1]));
}

/** A sparkline of counts (oldest first). */
function sparkline(counts) {
  const w = 120;
  const hgt = 24;
  const max = Math.max(1, ...counts);
  const step = counts.length > 1 ? w / (counts.length - 1) : w;
  const points = counts.map((c, i) => `${(i * step).toFixed(1)},${(hgt - 2 - (c / max) * (hgt - 4)).toFixed(1)}`).join(" ");
  return s(
    "svg",
    { class: "spark", viewBox: `0 0 ${w} ${hgt}`, width: w, height: hgt, role: "img", "aria-label": "failures over the window, peak " + max },
    s("line", { class: "axis", x1: 0, y1: hgt - 1, x2: w, y2: hgt - 1 }),
    s("polyline", { points }),
  );
}

// ---------- Incidents ----------

function incidentCard(inc) {
  const high = inc.severity >= 7;
  return h(
    "a",
    { class: `card ${inc.status}${high ? " sev-high" : ""}`, href: "/ui/incidents/" + encodeURIComponent(inc.incident_id), "data-incident-id": inc.incident_id },
    h("div", { class: "family" }, familyText(inc.error_family), badge(inc.status)),
    h(
      "dl",
      {},
      h("dt", { text: "Cause" }), h("dd", { text: `${inc.cause} (${inc.confidence} confidence)` }),
      h("dt", { text: "Severity" }), h("dd", { text: `${inc.severity} / 10` }),
      h("dt", { text: "Affected" }), h("dd", { text: `${num(inc.affected_users)} users, ${inc.affected_requests} requests, ${inc.affected_services} services` }),
      h("dt", { text: "Started" }), h("dd", {}, when(inc.started_at)),
      h("dt", { text: "Suspect change" }), h("dd", { text: inc.suspect_deploy_id ? "deploy " + inc.suspect_deploy_id : "none found" }),
      h("dt", { text: "Incident" }), h("dd", { class: "mono", text: inc.incident_id }),
    ),
  );
}

async function incidentsScreen(main) {
  const gen = generation;
  const strip = h("section", { id: "incident-strip", class: "strip", "aria-live": "polite", "aria-label": "Active incidents" });
  const resolved = h("section", { id: "resolved" }, h("p", { class: "muted", text: "Loading…" }));
  const updated = h("span", { class: "muted" });
  main.append(h("h1", {}, "Incidents ", updated), strip, h("h2", { text: "Resolved" }), resolved);
  const load = () =>
    guarded(strip, async () => {
      const v = await api("/v1/incidents/active");
      if (!live(gen)) return;
      const cards = v.incidents.map(incidentCard);
      strip.replaceChildren(...(cards.length ? cards : [h("p", { class: "muted", id: "no-incidents", text: "No active incidents." })]));
      updated.textContent = "· updated " + new Date().toLocaleTimeString();
    });
  await load();
  every(POLL_MS, load);
  await guarded(resolved, async () => {
    const r = await postQuery(
      "SELECT incident_id, error_service, error_step, error_code, cause, confidence, severity, started_at, resolved_at " +
        "FROM incidents WHERE status = 'resolved' ORDER BY resolved_at DESC, incident_id LIMIT 20",
      20,
    );
    if (!live(gen)) return;
    if (!r.rows.length) {
      resolved.replaceChildren(h("p", { class: "muted", text: "No resolved incidents in retention." }));
      return;
    }
    resolved.replaceChildren(
      table(
        ["Incident", "Family", "Cause", "Severity", "Started", "Resolved"],
        r.rows.map((x) => [
          link("/ui/incidents/" + encodeURIComponent(x[0]), x[0], { class: "mono" }),
          familyText({ service: x[1], step: x[2], error_code: x[3] }),
          `${x[4]} (${x[5]})`,
          x[6],
          x[7],
          x[8],
        ]),
      ),
    );
  });
}

/** A table of rows of cells (strings or nodes). */
function table(headers, rows, numeric) {
  numeric = numeric || [];
  return h(
    "div",
    { class: "table-wrap" },
    h(
      "table",
      {},
      h("thead", {}, h("tr", {}, headers.map((t, i) => h("th", { class: numeric.includes(i) ? "num" : null, scope: "col", text: t })))),
      h("tbody", {}, rows.map((r) => h("tr", {}, r.map((c, i) => h("td", { class: numeric.includes(i) ? "num" : null }, c === null || c === undefined ? "" : c))))),
    ),
  );
}

// ---------- Incident detail ----------

function evidenceItem(ev) {
  const cites = [];
  if (ev.signal_id) cites.push(h("cite", {}, "signal ", h("code", { text: ev.signal_id })));
  if (ev.deployment_id) cites.push(h("cite", {}, "deploy ", h("code", { text: ev.deployment_id })));
  if (ev.trace_id) cites.push(h("cite", {}, "trace ", traceLink(ev.trace_id)));
  if (ev.service) cites.push(h("cite", { text: "service " + ev.service }));
  if (ev.occurred_at) cites.push(h("cite", { text: ev.occurred_at }));
  return h("li", {}, h("span", { class: "badge", text: ev.kind }), " ", h("strong", { text: ev.title }), ev.detail ? " (" + ev.detail + ")" : "", ...cites);
}

function dimensionsChart(snap) {
  const latest = snap && snap.latest;
  if (!latest || !latest.dimensions || !latest.dimensions.length) {
    return h("p", { class: "muted", text: latest ? `No suspect dimension (capture ${latest.capture_status}).` : "Not captured yet." });
  }
  const rows = latest.dimensions.map((d) => ({ label: `${d.dimension}=${d.value}`, a: d.failing_share, b: d.baseline_share }));
  return h(
    "div",
    { id: "suspect-dimensions" },
    pairedBars(rows, 1, ["failing share", "baseline share"], pct),
    h("p", { class: "muted", text: `${latest.failing_events} failing events vs ${latest.baseline_events} baseline events (${latest.baseline}).` }),
  );
}

async function incidentScreen(main, _params, id) {
  const gen = generation;
  main.append(h("p", {}, link("/ui/incidents", "← Incidents")));
  const head = h("section", { id: "incident" }, h("p", { class: "muted", text: "Loading…" }));
  const report = h("section", { id: "report", class: "panel" }, h("p", { class: "muted", text: "Loading the triage report…" }));
  main.append(head, h("h2", { text: "Triage report" }), report);
  await Promise.all([
    guarded(head, async () => {
      const { incident: inc } = await api("/v1/incidents/" + encodeURIComponent(id));
      if (live(gen)) head.replaceChildren(...incidentDetail(inc));
    }),
    guarded(report, async () => {
      const r = await api("/v1/triage/" + encodeURIComponent(id));
      if (live(gen)) report.replaceChildren(...reportView(id, r));
    }),
  ]);
}

function incidentDetail(inc) {
  return [
    h("h1", {}, familyText(inc.error_family), badge(inc.status)),
    h(
      "dl",
      { class: "facts panel" },
      h("dt", { text: "Incident" }), h("dd", { class: "mono", text: inc.incident_id }),
      h("dt", { text: "Cause" }), h("dd", { text: `${inc.cause} (${inc.confidence} confidence)` }),
      h("dt", { text: "Severity" }), h("dd", { text: `${inc.severity} / 10` }),
      h("dt", { text: "Affected" }), h("dd", { text: `${num(inc.affected_users)} users, ${inc.affected_requests} requests, ${inc.affected_services} services (${inc.top_services.join(", ")})` }),
      h("dt", { text: "Lift" }), h("dd", { text: `${Number(inc.lift).toFixed(2)}× over baseline ${inc.baseline_count} (now ${inc.current_count})` }),
      h("dt", { text: "Started" }), h("dd", {}, when(inc.started_at), " · ", inc.started_at),
      h("dt", { text: "Suspect change" }), h("dd", { text: inc.suspect_deploy_id ? "deploy " + inc.suspect_deploy_id : "none found" }),
      h("dt", { text: "Blast radius" }), h("dd", {}, link(`/ui/blast?error_family=${encodeURIComponent(familyText(inc.error_family))}&window=1h`, "open")),
    ),
    h("h2", { text: "Evidence" }),
    h("ul", { class: "plain panel", id: "evidence" }, inc.evidence.map(evidenceItem)),
    h("h2", { text: "Next checks" }),
    h("ol", { class: "panel", id: "next-checks" }, inc.next_checks.map((c) => h("li", { text: c }))),
    h("h2", { text: "Suspect dimensions" }),
    h("div", { class: "panel", id: "suspect-dimensions-panel" }, dimensionsChart(inc.suspect_dimensions)),
    h("h2", { text: "Sample traces" }),
    h("ul", { class: "plain panel", id: "sample-traces" }, inc.sample_traces.map((t) => h("li", {}, traceLink(t), " ", link("/ui/explain/" + encodeURIComponent(t), "explain")))),
  ];
}

function reportView(id, r) {
  const out = h("pre", { class: "out", id: "render-output", "aria-live": "polite", hidden: true });
  const status = h("span", { class: "muted", id: "render-status", "aria-live": "polite" });
  const render = async (format, copy) => {
    status.textContent = "Rendering " + format + "…";
    try {
      const text = await api(`/v1/triage/${encodeURIComponent(id)}/report?format=${format}`, { as: "text" });
      out.hidden = false;
      out.textContent = text;
      out.dataset.format = format;
      status.textContent = format + " text below.";
      if (copy) {
        try {
          await navigator.clipboard.writeText(text);
          status.textContent = "Markdown copied to the clipboard.";
        } catch (_) {
          status.textContent = "The browser refused the clipboard; the Markdown is below to copy.";
        }
      }
    } catch (e) {
      status.replaceChildren(errorBox(e));
    }
  };
  const b = r.blast_snapshot;
  const items = [
    h(
      "dl",
      { class: "facts" },
      h("dt", { text: "report_hash" }), h("dd", {}, h("code", { id: "report-hash", text: r.report_hash })),
      h("dt", { text: "evidence_fingerprint" }), h("dd", {}, h("code", { id: "evidence-fingerprint", text: r.evidence_fingerprint })),
      h("dt", { text: "Window" }), h("dd", { text: r.incident_ref.window }),
      h("dt", { text: "Confidence" }), h("dd", { text: r.confidence }),
      h("dt", { text: "Impact" }), h("dd", { text: `${b.requests} requests, ${b.users} users, ${b.services} services` }),
      h("dt", { text: "Generated" }), h("dd", { text: r.generated_at }),
    ),
    h(
      "div",
      { class: "row" },
      h("button", { type: "button", id: "copy-markdown", onclick: () => render("markdown", true), text: "Copy as Markdown" }),
      h("button", { type: "button", class: "quiet", id: "render-slack", onclick: () => render("slack"), text: "Slack text" }),
      h("button", { type: "button", class: "quiet", id: "render-pagerduty", onclick: () => render("pagerduty"), text: "PagerDuty text" }),
      status,
    ),
    out,
  ];
  if (r.suspect_change) {
    const c = r.suspect_change;
    items.push(h("h3", { text: "Suspect change" }), h("p", {}, `${c.service} ${c.version || ""} `, h("cite", {}, "deploy ", h("code", { text: c.deploy_id }))));
  }
  if (r.first_failure) items.push(h("h3", { text: "First failure" }), h("pre", { class: "out", text: JSON.stringify(r.first_failure, null, 2) }));
  if (r.sample_traces) {
    items.push(h("h3", { text: "Sample traces" }), h("ul", { class: "plain" }, r.sample_traces.map((t) => h("li", {}, traceLink(t.trace_id), " ", t.summary))));
  }
  const cited = (title, list, line) => {
    if (list && list.length) items.push(h("h3", { text: title }), h("ul", { class: "plain" }, list.map(line)));
  };
  cited("Signals", r.signals, (x) => h("li", {}, h("code", { text: x.id }), ` ${x.type}`, h("cite", { text: "evidence " + x.evidence_ids.join(", ") })));
  cited("Alerts", r.alerts, (x) => h("li", {}, `${x.severity} from ${x.source}: ${x.reason}`, h("cite", {}, "signal ", h("code", { text: x.signal_id }), x.alert_id ? ", alert " + x.alert_id : "")));
  cited("Runtime", r.runtime, (x) => h("li", {}, `${x.severity} ${x.subtype || "runtime"} on ${x.service}: ${x.reason}`, h("cite", {}, "signal ", h("code", { text: x.signal_id }))));
  cited("Next checks", r.next_checks, (x) => h("li", {}, x.prompt, h("cite", {}, "check ", h("code", { text: x.id }))));
  return items;
}

// ---------- Errors ----------

/** Failure counts per family and bucket over the window, oldest bucket first. */
async function familySeries(seconds, buckets) {
  const size = Math.ceil(seconds / buckets);
  const sql =
    "SELECT service, anchor_step, anchor_error_code, " +
    `CAST(floor((date_part('epoch', now()) - date_part('epoch', ts_start)) / ${size}) AS BIGINT) AS ago, count(*) AS n ` +
    "FROM events WHERE status IN ('error','timeout','partial','aborted') AND anchor_error_code IS NOT NULL " +
    `AND ts_start >= now() - INTERVAL '${seconds} seconds' GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4`;
  const r = await postQuery(sql, 10000);
  const series = new Map();
  for (const [service, step, code, agoBucket, n] of r.rows) {
    const key = familyText({ service, step, error_code: code });
    if (!series.has(key)) series.set(key, new Array(buckets).fill(0));
    const i = buckets - 1 - Math.min(buckets - 1, Math.max(0, agoBucket));
    series.get(key)[i] += n;
  }
  return series;
}

async function errorsScreen(main, params) {
  const gen = generation;
  const win = WINDOWS[params.get("window")] ? params.get("window") : "1h";
  const families = h("section", { id: "families" }, h("p", { class: "muted", text: "Loading…" }));
  const rollup = h("section", { id: "rollup", class: "panel" }, h("p", { class: "muted", text: "Loading…" }));
  const run = (p) => navigate("/ui/errors?window=" + p.window, true);
  main.append(
    h("h1", { text: "Errors" }),
    filterForm([field("Window", windowSelect(win))], run),
    h("h2", { text: "Error families" }),
    families,
    h("h2", { text: "Root cause vs propagated" }),
    h("p", { class: "muted", text: "Each failed request counted once under its originating failure, against every hop that re-reported the code." }),
    rollup,
  );
  await Promise.all([
    guarded(families, async () => {
      const [v, series] = await Promise.all([api("/v1/errors?limit=50&window=" + win), familySeries(WINDOWS[win], 30)]);
      if (!live(gen)) return;
      if (!v.rows.length) {
        families.replaceChildren(h("p", { class: "muted", text: `No failures in the last ${win}.` }));
        return;
      }
      families.replaceChildren(
        table(
          ["Family", "Failures", "Traces", "Users", `Last ${win}`, "Samples"],
          v.rows.map((r) => {
            const key = familyText(r.error_family);
            return [
              link("/ui/blast?error_family=" + encodeURIComponent(key) + "&window=" + win, key),
              r.count,
              r.affected_traces,
              num(r.affected_users),
              sparkline(series.get(key) || new Array(30).fill(0)),
              h("span", {}, r.sample_traces.map((t) => [traceLink(t), " "])),
            ];
          }),
          [1, 2, 3],
        ),
      );
    }),
    guarded(rollup, async () => {
      const v = await api("/v1/rollups/root_cause?limit=20&window=" + win);
      if (!live(gen)) return;
      if (!v.rows.length) {
        rollup.replaceChildren(h("p", { class: "muted", text: "No failed requests in the window." }));
        return;
      }
      const max = Math.max(...v.rows.map((r) => Math.max(r.root_cause_count, r.propagated_count)));
      rollup.replaceChildren(
        h("p", { text: `${v.failed_traces} failed requests (root causes) vs ${v.failed_events} failed events (every hop) in ${v.window}.` }),
        pairedBars(
          v.rows.map((r) => ({ label: r.error_code, a: r.root_cause_count, b: r.propagated_count })),
          max,
          ["root cause (requests)", "propagated (events)"],
          String,
        ),
      );
    }),
  ]);
}

// ---------- Explain ----------

function explainForm(main) {
  main.append(
    h("h1", { text: "Explain a trace" }),
    filterForm([field("Trace id", textInput("trace_id", "", "32 hex digits"))], (p) => {
      if (p.trace_id) navigate("/ui/explain/" + encodeURIComponent(p.trace_id.trim()));
    }, "Explain"),
    h("p", { class: "muted" }, "Or pick one from ", link("/ui/traces", "recent traces"), "."),
  );
}

/** Step span id → index of the event holding that step (reads §3.1 span owners). */
function spanOwners(events) {
  const owner = new Map();
  events.forEach((e, i) => (e.steps || []).forEach((st) => st.span_id && owner.set(st.span_id, i)));
  return owner;
}

/** Depth of every event: its parent is the event owning the step span it names. */
function depths(events) {
  const owner = spanOwners(events);
  const memo = new Array(events.length);
  const depth = (i, seen) => {
    if (memo[i] !== undefined) return memo[i];
    const p = owner.get(events[i].parent_span_id);
    const d = p === undefined || p === i || seen.has(p) ? 0 : depth(p, seen.add(i)) + 1;
    memo[i] = d;
    return d;
  };
  return events.map((_, i) => depth(i, new Set()));
}

/** The indexes of the events on the caller chain above event `i` (parent spans, upwards). */
function callersOf(events, i) {
  const owner = spanOwners(events);
  const out = new Set();
  for (let at = i; at >= 0; ) {
    const p = owner.get(events[at].parent_span_id);
    if (p === undefined || out.has(p) || p === i) break;
    out.add(p);
    at = p;
  }
  return out;
}

const httpStatus = (e) => (e.fields && e.fields.http && e.fields.http.status ? " HTTP " + e.fields.http.status : "");

/** Did the failure reach this caller: failed, a 5xx answer, or a failed step? */
function carriesFailure(e) {
  const status = e.fields && e.fields.http ? Number(e.fields.http.status) : 0;
  return FAILED.includes(e.status) || status >= 500 || (e.steps || []).some((st) => st.status === "error");
}

async function explainScreen(main, _params, traceId) {
  const gen = generation;
  main.append(h("h1", {}, "Explain ", h("span", { class: "mono", text: traceId })));
  const body = h("section", { id: "explain" }, h("p", { class: "muted", text: "Loading…" }));
  main.append(body);
  await guarded(body, async () => {
    const enc = encodeURIComponent(traceId);
    const [trace, story] = await Promise.all([
      api("/v1/traces/" + enc),
      api("/v1/traces/story?trace_id=" + enc).catch((e) => (e.code === "not_found" ? null : Promise.reject(e))),
    ]);
    if (!live(gen)) return;
    body.replaceChildren(...explainView(trace, story));
  });
}

function explainView(trace, story) {
  const events = trace.events;
  const d = depths(events);
  const t0 = Math.min(...events.map((e) => parseTs(e.ts_start)));
  const t1 = Math.max(...events.map((e) => parseTs(e.ts_end)));
  const total = Math.max(1, t1 - t0);
  const origin = story ? story.event_id : null;
  const originCode = story && story.anchor ? story.anchor.error_code : null;
  const callers = callersOf(events, events.findIndex((e) => e.event_id === origin));
  const bar = (startMs, durMs, failed) => {
    const el = h("div", { class: "wf-bar" + (failed ? " failed" : "") });
    el.style.left = ((startMs / total) * 100).toFixed(3) + "%";
    el.style.width = Math.max(0.3, (durMs / total) * 100).toFixed(3) + "%";
    return h("div", { class: "wf-track" }, el);
  };
  const rows = [];
  events.forEach((e, i) => {
    const failed = FAILED.includes(e.status);
    const isOrigin = e.event_id === origin;
    const label = h("div", { class: "wf-label" });
    label.style.paddingLeft = 8 + d[i] * 18 + "px";
    label.append(h("strong", { text: e.service }), " ", h("span", { class: "muted", text: `${e.duration_ms} ms` }), badge(e.status));
    if (isOrigin) {
      const what = story.anchor ? `${story.anchor.step} → ${story.anchor.error_code}` : "failure";
      label.append(h("span", { class: "mark origin", id: "origin-mark", text: "ORIGIN " + what }));
    } else if (failed && e.anchor && e.anchor.error_code === originCode) {
      label.append(h("span", { class: "mark propagated", text: "propagated " + e.anchor.error_code }));
    } else if (callers.has(i) && carriesFailure(e)) {
      label.append(h("span", { class: "mark propagated", text: "propagated ↑" + httpStatus(e) }));
    } else if (failed && e.anchor) {
      label.append(h("span", { class: "mark propagated", text: "failed " + e.anchor.error_code }));
    }
    label.title = `${e.service} ${e.event_id}`;
    const row = h("div", { class: "wf-row" + (isOrigin ? " origin" : ""), "data-event-id": e.event_id, "data-origin": isOrigin ? "true" : null }, label, bar(parseTs(e.ts_start) - t0, parseTs(e.ts_end) - parseTs(e.ts_start), failed));
    rows.push(row);
    for (const st of e.steps || []) {
      const sl = h("div", { class: "wf-label" });
      sl.style.paddingLeft = 26 + d[i] * 18 + "px";
      sl.append(`${st.name} · ${st.duration_ms} ms`, st.error && st.error.code ? ` · ${st.error.code}` : "");
      rows.push(h("div", { class: "wf-row step" }, sl, bar(parseTs(e.ts_start) - t0 + st.start_ms, st.duration_ms, st.status === "error")));
    }
  });
  const out = [
    h("p", {}, `${events.length} events over ${Math.round(total)} ms · linkage `, h("code", { text: trace.linkage })),
    h("div", { class: "waterfall", id: "waterfall", role: "list" }, rows),
  ];
  if (story) {
    out.push(
      h("h2", { text: "Originating failure" }),
      h(
        "dl",
        { class: "facts panel", id: "story" },
        h("dt", { text: "Service" }), h("dd", { text: story.service }),
        h("dt", { text: "Event" }), h("dd", { class: "mono", text: story.event_id }),
        h("dt", { text: "First failing step" }), h("dd", { text: story.anchor ? `${story.anchor.step} → ${story.anchor.error_code}` : "none observed" }),
        h("dt", { text: "Linkage" }), h("dd", { text: story.linkage }),
        h("dt", { text: "Path" }), h("dd", { text: story.path.map((p) => `${p.name} ${p.status} ${p.duration_ms} ms${p.error_msg ? " (" + p.error_msg + ")" : ""}`).join(" → ") || "none" }),
        h("dt", { text: "Downstream" }), h("dd", { text: story.downstream.map((x) => `${x.step} → ${x.service || "?"} ${x.endpoint}`).join("; ") || "none" }),
        h("dt", { text: "Logs" }), h("dd", { text: story.logs.map((l) => `+${l.ts_offset_ms} ms [${l.level}] ${l.msg}`).join("\n") || "none" }),
      ),
    );
  }
  return out;
}

// ---------- Blast radius ----------

async function blastScreen(main, params) {
  const gen = generation;
  const win = WINDOWS[params.get("window")] ? params.get("window") : "1h";
  const out = h("section", { id: "blast" });
  const run = (p) =>
    guarded(out, async () => {
      if (!p.error_family && !p.error_code) {
        out.replaceChildren(h("p", { class: "muted", text: "Give an error family (service:step:code) or an error code." }));
        return;
      }
      const q = new URLSearchParams();
      for (const k of ["error_family", "error_code", "window"]) if (p[k]) q.set(k, p[k]);
      const v = await api("/v1/blast_radius?" + q);
      if (!live(gen)) return;
      out.replaceChildren(
        h(
          "dl",
          { class: "facts panel" },
          h("dt", { text: "Key" }), h("dd", { class: "mono", text: JSON.stringify(v.key) }),
          h("dt", { text: "Mode" }), h("dd", { text: v.view_mode }),
          h("dt", { text: "Window" }), h("dd", { text: v.window }),
          h("dt", { text: "Affected requests" }), h("dd", { id: "affected-requests", text: v.affected_requests }),
          h("dt", { text: "Affected users" }), h("dd", { text: num(v.affected_users) }),
          h("dt", { text: "Affected services" }), h("dd", { text: v.affected_services }),
          h("dt", { text: "Top services" }), h("dd", { text: v.top_services.join(", ") || "none" }),
          h("dt", { text: "Sample traces" }), h("dd", {}, v.sample_traces.map((t) => [traceLink(t), " "])),
        ),
      );
    });
  main.append(
    h("h1", { text: "Blast radius" }),
    filterForm(
      [
        field("Error family", textInput("error_family", params.get("error_family"), "checkout:payment.charge:PMT_502")),
        field("or error code", textInput("error_code", params.get("error_code"), "PMT_502")),
        field("Window", windowSelect(win)),
      ],
      run,
    ),
    out,
  );
  await run({ error_family: params.get("error_family"), error_code: params.get("error_code"), window: win });
}

// ---------- Recent traces and search ----------

/** A paged list: `fetchPage(cursor)` answers {items, next_cursor}; rows drawn by `toRow`. */
async function pagedTable(target, headers, fetchPage, toRow, numeric) {
  const gen = generation;
  const rows = [];
  const more = h("button", { type: "button", class: "quiet", text: "More" });
  const draw = async (cursor) => {
    const page = await fetchPage(cursor);
    if (!live(gen)) return;
    rows.push(...page.items.map(toRow));
    const parts = [rows.length ? table(headers, rows, numeric) : h("p", { class: "muted", text: "Nothing matched." })];
    if (page.next_cursor) {
      more.onclick = () => guarded(target, () => draw(page.next_cursor));
      parts.push(more);
    }
    target.replaceChildren(...parts);
  };
  await guarded(target, () => draw(null));
}

function query(params, keys) {
  const q = new URLSearchParams();
  for (const k of keys) if (params[k]) q.set(k, params[k]);
  return q;
}

async function tracesScreen(main, params) {
  const out = h("section", { id: "traces" });
  const win = WINDOWS[params.get("window")] ? params.get("window") : "1h";
  const run = (p) =>
    pagedTable(
      out,
      ["Trace", "Started", "Duration (ms)", "Status", "Services", "Failure"],
      async (cursor) => {
        const q = query(p, ["service", "status", "window"]);
        q.set("limit", "50");
        if (cursor) q.set("cursor", cursor);
        const v = await api("/v1/traces/recent?" + q);
        return { items: v.traces, next_cursor: v.next_cursor };
      },
      (t) => [traceLink(t.trace_id), t.ts_start, t.duration_ms, badge(t.status), t.services.join(" → "), t.anchor_summary || ""],
      [2],
    );
  main.append(
    h("h1", { text: "Recent traces" }),
    filterForm(
      [field("Service", textInput("service", params.get("service"))), field("Status", textInput("status", params.get("status"), "error,timeout")), field("Window", windowSelect(win))],
      run,
    ),
    out,
  );
  await run({ service: params.get("service"), status: params.get("status"), window: win });
}

async function searchScreen(main, params) {
  const out = h("section", { id: "search" });
  const win = WINDOWS[params.get("window")] ? params.get("window") : "1h";
  const keys = ["service", "status", "error_code", "trace_id", "window"];
  const run = (p) =>
    pagedTable(
      out,
      ["Started", "Service", "Status", "Failure", "Trace", "Event"],
      async (cursor) => {
        const q = query(p, keys);
        q.set("limit", "50");
        if (cursor) q.set("cursor", cursor);
        const v = await api("/v1/events/search?" + q);
        return { items: v.events, next_cursor: v.next_cursor };
      },
      (e) => [e.ts_start, e.service, badge(e.status), e.anchor ? `${e.anchor.step} → ${e.anchor.error_code}` : "", traceLink(e.trace_id), h("span", { class: "mono", text: e.event_id })],
    );
  main.append(
    h("h1", { text: "Search events" }),
    filterForm(
      [
        field("Service", textInput("service", params.get("service"))),
        field("Status", textInput("status", params.get("status"), "error")),
        field("Error code", textInput("error_code", params.get("error_code"), "PMT_502")),
        field("Trace id", textInput("trace_id", params.get("trace_id"))),
        field("Window", windowSelect(win)),
      ],
      run,
      "Search",
    ),
    out,
  );
  await run(Object.fromEntries(keys.map((k) => [k, k === "window" ? win : params.get(k)])));
}

// ---------- SQL ----------

const DEFAULT_SQL = "SELECT service, status, count(*) AS n FROM events GROUP BY service, status ORDER BY n DESC, service, status";

function cellText(v) {
  if (v === null || v === undefined) return "";
  return typeof v === "object" ? JSON.stringify(v) : String(v);
}

function sqlScreen(main, params) {
  const gen = generation;
  const area = h("textarea", { id: "sql-input", name: "sql", "aria-label": "SQL", spellcheck: "false" });
  area.value = params.get("q") || DEFAULT_SQL;
  const limit = h("input", { id: "sql-limit", type: "number", min: 1, value: params.get("limit") || "1000" });
  const out = h("section", { id: "sql-result" });
  const csv = h("button", { type: "button", class: "quiet", id: "sql-csv", text: "Download CSV" });
  const run = () =>
    guarded(out, async () => {
      setParams({ q: area.value, limit: limit.value });
      out.replaceChildren(h("p", { class: "muted", text: "Running…" }));
      const r = await postQuery(area.value, Number(limit.value) || 1000);
      if (!live(gen)) return;
      out.replaceChildren(
        h("p", { class: "muted", id: "sql-summary", text: `${r.row_count} rows${r.truncated ? " (truncated)" : ""} in ${r.elapsed_ms} ms` }),
        table(r.columns.map((c) => `${c.name} (${c.type})`), r.rows.map((row) => row.map(cellText))),
      );
    });
  csv.addEventListener("click", () =>
    guarded(out, async () => {
      const blob = await postQuery(area.value, Number(limit.value) || 1000, "csv");
      const a = h("a", { href: URL.createObjectURL(blob), download: "waylog-query.csv" });
      document.body.append(a);
      a.click();
      a.remove();
      setTimeout(() => URL.revokeObjectURL(a.href), 10000);
    }),
  );
  area.addEventListener("keydown", (ev) => {
    if (ev.key === "Enter" && (ev.ctrlKey || ev.metaKey)) {
      ev.preventDefault();
      run();
    }
  });
  const form = h("form", { id: "sql-form" }, area, h("div", { class: "row" }, h("button", { type: "submit", id: "sql-run", text: "Run" }), h("label", {}, "Limit ", limit), csv, h("span", { class: "muted", text: "Read-only: SELECT, WITH, EXPLAIN, SHOW, DESCRIBE over events, signals, alerts, deployments, incidents." })));
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    run();
  });
  main.append(h("h1", { text: "SQL" }), form, out);
}

// ---------- start ----------

const SCREEN_KEYS = ["incidents", "errors", "explain", "blast", "traces", "search", "sql"];

document.addEventListener("click", (ev) => {
  const a = ev.target.closest && ev.target.closest("a[href^='/ui']");
  if (!a || a.hasAttribute("download") || ev.defaultPrevented || ev.button !== 0 || ev.metaKey || ev.ctrlKey || ev.shiftKey || ev.altKey) return;
  ev.preventDefault();
  navigate(a.getAttribute("href"));
});

document.addEventListener("keydown", (ev) => {
  const typing = ev.target.closest && ev.target.closest("input, textarea, select, dialog");
  if (typing || ev.ctrlKey || ev.metaKey || ev.altKey) return;
  const n = Number(ev.key);
  if (n >= 1 && n <= SCREEN_KEYS.length) {
    ev.preventDefault();
    navigate("/ui/" + SCREEN_KEYS[n - 1]);
  } else if (ev.key === "/") {
    const first = document.querySelector("main input, main textarea");
    if (first) {
      ev.preventDefault();
      first.focus();
    }
  }
});

window.addEventListener("popstate", render);

document.getElementById("key-button").addEventListener("click", async () => {
  const key = await askKey("Enter the read key for this server (Cancel forgets the stored one).");
  if (key) sessionStorage.setItem(KEY_STORE, key);
  else sessionStorage.removeItem(KEY_STORE);
  keyDeclined = false;
  render();
});

render();
