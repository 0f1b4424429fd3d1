// aarmor console: the overview, held actions, sessions and receipts. Plain DOM, no
// dependencies; every value from the server is inserted as text (textContent), never as markup.
// The charts are SVG documents the appliance draws; they are parsed as SVG (DOMParser) and
// imported, never assigned as HTML.
"use strict";

let csrf = null;
let version = null;
let polling = false;
let storageTimer = null;
let overviewTimer = null;
let currentTab = "overview";
let operations = false;
let searchSeq = 0;

const $ = (id) => document.getElementById(id);

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === "class") node.className = v;
    else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else if (v !== undefined && v !== null && v !== false) node.setAttribute(k, v === true ? "" : String(v));
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined) continue;
    node.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return node;
}

async function api(method, path, body) {
  const opts = { method, credentials: "same-origin", headers: {} };
  if (body !== undefined) {
    opts.headers["content-type"] = "application/json";
    opts.body = JSON.stringify(body);
  }
  if (csrf && method !== "GET") opts.headers["x-csrf-token"] = csrf;
  const resp = await fetch(path, opts);
  let data = {};
  try { data = await resp.json(); } catch (_) { /* empty */ }
  if (resp.status === 401 && path !== "/console/api/login") { signedOut(); }
  return { ok: resp.ok, status: resp.status, data };
}

function signedIn(session) {
  csrf = session.csrf;
  $("who-name").textContent = session.approver + (session.groups && session.groups.length ? " (" + session.groups.join(", ") + ")" : "");
  $("who").hidden = false;
  $("login").hidden = true;
  $("app").hidden = false;
  // The operator views (Overview, Sessions) only for those allowed them.
  operations = !!session.operations;
  for (const t of ["overview", "sessions"]) $("tab-" + t).hidden = !operations;
  if (!operations && (currentTab === "overview" || currentTab === "sessions")) currentTab = "queue";
  version = null;
  if (!polling) poll();
  checkStorage();
  if (!storageTimer) storageTimer = setInterval(() => { if (csrf) checkStorage(); }, 10000);
  showTab(currentTab);
}

function signedOut() {
  csrf = null;
  $("who").hidden = true;
  $("login").hidden = false;
  $("app").hidden = true;
}

function facts(pairs) {
  const dl = el("dl", { class: "facts" });
  for (const [k, v] of pairs) {
    if (v === undefined || v === null || v === "" || (Array.isArray(v) && v.length === 0)) continue;
    dl.append(el("dt", {}, k), el("dd", {}, typeof v === "object" ? JSON.stringify(v) : String(v)));
  }
  return dl;
}

function heldCard(r) {
  const a = r.action;
  const id = a.identity || {};
  const ctx = (r.context && r.context.context) || {};
  const intent = (r.context && r.context.intent) || {};
  const chain = (id.delegation_chain || []).map((x) => Object.entries(x).filter(([, v]) => v).map(([k, v]) => k + ": " + v).join(" ")).join(" → ");
  const prior = (ctx.prior_actions || []).map((p) => `${p.tool}.${p.operation} → ${p.decision}${p.classes && p.classes.length ? " [" + p.classes.join(",") + "]" : ""}`);
  const comment = el("textarea", { id: "comment-" + r.id, rows: 2, "aria-label": "Comment for " + r.id, placeholder: "Comment (recorded in the receipt)" });
  const status = el("p", { class: "error", role: "status", id: "status-" + r.id });
  const vote = async (approve) => {
    const res = await api("POST", `/console/api/approvals/${encodeURIComponent(r.id)}/${approve ? "approve" : "deny"}`, { comment: comment.value });
    status.textContent = res.ok ? (res.data.status === "waiting" ? `Recorded: ${res.data.approvals} of ${res.data.quorum} approvals` : `Done: ${res.data.status}`) : (res.data.error || "failed");
    if (res.ok) refresh();
  };
  const disabled = !r.can_answer;
  return el("article", { class: "held", id: r.id, "aria-labelledby": "title-" + r.id },
    el("h3", { id: "title-" + r.id }, `${a.tool}.${a.operation} `, el("span", { class: "risk risk-" + r.risk }, "risk " + r.risk)),
    el("p", {}, el("strong", {}, r.rule || "(default)"), " — ", r.reason),
    facts([
      ["Agent", id.agent], ["Human", id.human], ["Role", id.role], ["Service", id.service], ["Session", id.session],
      ["Identity chain", chain], ["Identity evidence", id.evidence], ["Unverified", id.unverified],
      ["Original request", ctx.original_request], ["Last user message", ctx.last_user_message],
      ["Prior actions", prior.join("; ")], ["Data classes touched", (ctx.data_classes || []).join(", ")],
      ["Data labels", (ctx.data_labels || []).join(", ")],
      ["Intent drift", intent.drift !== undefined ? `${intent.drift} (max ${intent.drift_max}, avg ${intent.drift_ema})` : null],
      ["Argument provenance", intent.provenance],
      ["Target", `${a.target.method} ${a.target.host}:${a.target.port}${a.target.path}`],
      ["Approvers", (r.approvers.length ? r.approvers.join(", ") : "any approver") + (r.escalated ? ` + ${r.escalate_to.join(", ")} (escalated)` : "")],
      ["Quorum", `${r.votes.filter((v) => v.approve).length} of ${r.quorum}`],
      ["Votes", r.votes.map((v) => `${v.approver}: ${v.approve ? "approve" : "deny"}${v.comment ? " (" + v.comment + ")" : ""}`).join("; ")],
      ["Expires", r.expires],
    ]),
    el("details", {}, el("summary", {}, "Parameters"), el("pre", {}, JSON.stringify(a.parameters, null, 2))),
    el("div", { class: "actions" },
      el("div", {}, el("label", { for: "comment-" + r.id }, "Comment"), comment),
      el("button", { type: "button", class: "approve", disabled, onclick: () => vote(true) }, "Approve"),
      el("button", { type: "button", class: "deny", disabled, onclick: () => vote(false) }, "Deny")),
    disabled && r.why_not ? el("p", { class: "muted" }, r.why_not) : null,
    status);
}

function render(list) {
  $("queue-count").textContent = String(list.length);
  $("queue-status").textContent = list.length ? `${list.length} action(s) waiting` : "Waiting for actions that need approval…";
  const holder = $("queue-list");
  // Keep comments being typed across refreshes.
  const drafts = {};
  for (const t of holder.querySelectorAll("textarea")) drafts[t.id] = t.value;
  holder.replaceChildren(...list.map(heldCard));
  for (const [k, v] of Object.entries(drafts)) { const t = document.getElementById(k); if (t) t.value = v; }
}

// The stores' banner: shown while a store is past its warning level or archival fails.
async function checkStorage() {
  try {
    const res = await api("GET", "/console/api/storage");
    const banner = $("storage-banner");
    const b = res.ok ? res.data.banner : null;
    banner.hidden = !b;
    banner.className = "banner " + (b ? b.level : "");
    banner.textContent = b ? b.message : "";
  } catch (_) { /* the next check retries */ }
}

async function refresh() {
  const res = await api("GET", "/console/api/approvals");
  if (res.ok) { version = res.data.version; render(res.data.approvals); }
}

async function poll() {
  polling = true;
  while (csrf) {
    const path = version === null ? "/console/api/approvals" : `/console/api/approvals?version=${version}`;
    try {
      const res = await api("GET", path);
      if (!res.ok) { await new Promise((r) => setTimeout(r, 2000)); continue; }
      version = res.data.version;
      render(res.data.approvals);
    } catch (_) {
      $("queue-status").textContent = "Connection lost; retrying…";
      await new Promise((r) => setTimeout(r, 2000));
    }
  }
  polling = false;
}

async function search(ev) {
  if (ev) ev.preventDefault();
  const q = $("q").value;
  $("receipts-status").textContent = "Searching…";
  const mine = ++searchSeq;
  const res = await api("GET", "/console/api/receipts?limit=100&q=" + encodeURIComponent(q));
  if (mine !== searchSeq) return; // a newer search is under way: its answer is the one shown
  const body = $("receipts-table").tBodies[0];
  if (!res.ok) { $("receipts-status").textContent = res.data.error || "failed"; return; }
  $("receipts-status").textContent = `${res.data.receipts.length} receipt(s)`;
  body.replaceChildren(...res.data.receipts.map((r) => {
    const result = el("span", { "aria-live": "polite" });
    const verify = el("button", { type: "button", onclick: async () => {
      const v = await api("GET", `/console/api/receipts/${encodeURIComponent(r.receipt_id)}/verify`);
      if (!v.ok) { result.textContent = v.data.error || "failed"; result.className = "broken"; return; }
      result.textContent = v.data.ok ? `✓ valid (key ${v.data.key_id})` : "✗ " + v.data.problems.join("; ");
      result.className = v.data.ok ? "verified" : "broken";
    } }, "Verify");
    const show = el("button", { type: "button", class: "link", onclick: async () => {
      const d = await api("GET", `/console/api/receipts/${encodeURIComponent(r.receipt_id)}`);
      const pre = $("receipt-detail");
      pre.textContent = JSON.stringify(d.data, null, 2);
      pre.hidden = false;
    } }, r.receipt_id);
    return el("tr", {},
      el("td", {}, r.timestamp), el("td", {}, show), el("td", {}, r.kind),
      el("td", { class: "decision-" + r.decision }, r.decision + (r.enforced ? "" : " (monitor)")),
      el("td", {}, `${r.tool}.${r.operation}`), el("td", {}, r.agent || ""), el("td", {}, r.human || ""),
      el("td", {}, r.rule || ""), el("td", {}, verify, " ", result));
  }));
}

const TABS = ["overview", "queue", "sessions", "receipts"];

function showTab(which) {
  currentTab = which;
  for (const t of TABS) {
    $(t).hidden = t !== which;
    $("tab-" + t).setAttribute("aria-pressed", String(t === which));
  }
  clearInterval(overviewTimer);
  overviewTimer = null;
  if (which === "overview") {
    loadOverview();
    overviewTimer = setInterval(() => { if (csrf && currentTab === "overview") loadOverview(); }, 10000);
  }
  if (which === "sessions") loadSessions();
  if (which === "receipts") search();
}

// An SVG chart drawn by the appliance, parsed as SVG and imported into the page.
function putChart(id, svgText) {
  const holder = $(id).querySelector(".svg");
  const doc = new DOMParser().parseFromString(svgText || "", "image/svg+xml");
  const root = doc.documentElement;
  if (!root || root.nodeName !== "svg") { holder.replaceChildren(el("p", { class: "error" }, "chart unavailable")); return; }
  holder.replaceChildren(document.importNode(root, true));
}

let overviewLoading = false;

async function loadOverview() {
  // One request at a time: a slow answer is not piled up by the next refresh.
  if (overviewLoading) return;
  overviewLoading = true;
  try { await renderOverview(); } finally { overviewLoading = false; }
}

// A session id as one path segment: dots too are encoded, so "." or ".." stay ids.
function sessionPath(id) {
  return "/console/api/sessions/" + encodeURIComponent(id).replace(/\./g, "%2E");
}

async function renderOverview() {
  const res = await api("GET", "/console/api/overview");
  if (!res.ok) { $("overview-updated").textContent = res.data.error || "unavailable"; return; }
  const o = res.data;
  $("overview-updated").textContent = "— updated " + o.generated_at.slice(11, 19) + " UTC";
  const note = [];
  if (o.truncated) note.push(`More decisions than the ${o.receipts_read} newest receipts read: the counts cover those.`);
  if (o.read_error) note.push("Receipts unreadable: " + o.read_error);
  $("overview-note").hidden = note.length === 0;
  $("overview-note").textContent = note.join(" ");
  const totals = Object.entries(o.totals);
  $("totals").replaceChildren(...(totals.length ? totals : [["none", 0]]).flatMap(([k, v]) => [el("dt", { class: "decision-" + k }, k), el("dd", { "data-decision": k }, String(v))]));
  if (o.monitored) $("totals").append(el("dt", {}, "not enforced (monitor)"), el("dd", {}, String(o.monitored)));
  $("held-count").textContent = String(o.held.count);
  $("held-list").replaceChildren(...o.held.items.map((h) => el("li", {}, `${h.tool}.${h.operation} — ${h.agent || "unknown agent"} (${h.rule || "default"}), ${h.votes}/${h.quorum}, since ${h.created.slice(11, 19)}`)));
  const c = o.chain;
  const st = $("chain-status");
  st.className = c.ok ? "verified" : "broken";
  st.textContent = c.ok ? (c.checked ? `✓ intact: the newest ${c.checked} receipt(s) verify` : "no receipts yet") : "✗ " + (c.problems || []).join("; ");
  const storage = o.storage || {};
  const receiptsStore = (storage.stores || []).find((x) => x.name === "receipts");
  facts2($("chain-facts"), [
    ["Head", c.head_seq ? "seq " + c.head_seq : null],
    ["Checked from", c.first_checked ? "seq " + c.first_checked : null],
    ["Archive lag", storage.archive_lag !== undefined && storage.archive_lag !== null ? storage.archive_lag + " receipt(s)" : null],
    ["Store", receiptsStore ? `${receiptsStore.percent.toFixed(1)}% of ${Math.round(receiptsStore.usage.limit_bytes / 1048576)} MiB` : null],
    ["Retention", storage.failure ? "failing: " + storage.failure : null],
  ]);
  const sinks = o.sinks || [];
  $("sinks-none").hidden = sinks.length > 0;
  $("sinks-table").hidden = sinks.length === 0;
  $("sinks-table").tBodies[0].replaceChildren(...sinks.map((k) => el("tr", { "data-sink": k.name },
    el("td", {}, k.name, el("br"), el("span", { class: "muted" }, k.url)),
    el("td", { class: k.up ? "verified" : "broken" }, k.up ? "connected" : "down"),
    el("td", {}, String(k.queued)),
    el("td", {}, k.spill_bytes ? `${k.spill_bytes} bytes on disk` : "0"),
    el("td", {}, String(k.dropped)))));
  putChart("chart-decisions", o.charts.decisions);
  putChart("chart-rules", o.charts.rules);
  putChart("chart-agents", o.charts.agents);
  putChart("chart-drift", o.charts.drift);
}

function facts2(dl, pairs) {
  dl.replaceChildren(...pairs.filter(([, v]) => v !== null && v !== undefined).flatMap(([k, v]) => [el("dt", {}, k), el("dd", {}, String(v))]));
}

async function loadSessions(ev) {
  if (ev) ev.preventDefault();
  $("sessions-status").textContent = "Loading…";
  const res = await api("GET", "/console/api/sessions?limit=200&q=" + encodeURIComponent($("sq").value));
  if (!res.ok) { $("sessions-status").textContent = res.data.error || "failed"; return; }
  const d = res.data;
  $("sessions-status").textContent = `${d.matched} of ${d.total} session(s)` + (d.matched > d.sessions.length ? `, the ${d.sessions.length} most recent shown` : "");
  $("sessions-table").tBodies[0].replaceChildren(...d.sessions.map((s) => el("tr", {},
    el("td", {}, s.last_seen),
    el("td", {}, el("button", { type: "button", class: "link", onclick: () => showSession(s.session) }, s.session)),
    el("td", {}, s.agent), el("td", {}, String(s.entries)), el("td", {}, s.open ? "active" : "closed"))));
}

function badge(text, cls) { return el("span", { class: "badge " + (cls || "") }, text); }

function receiptLine(r) {
  const open = el("button", { type: "button", class: "link", onclick: () => { $("q").value = r.receipt_id; showTab("receipts"); } }, r.receipt_id);
  const approval = r.approval ? ` — approval ${r.approval.status}${r.approval.approver ? " by " + r.approval.approver : ""}${r.approval.reason ? " (" + r.approval.reason + ")" : ""}` : "";
  const drift = r.drift !== undefined && r.drift !== null ? ` — drift ${r.drift}` : "";
  const exec = r.execution ? ` — upstream ${r.execution.status}` : "";
  return el("div", { class: "receipt-line" },
    badge(r.kind), " ", el("span", { class: "decision-" + r.decision }, r.decision + (r.enforced ? "" : " (monitor)")),
    ` ${r.rule || "(default)"}: ${r.reason}${drift}${approval}${exec} `, open,
    r.provenance ? el("details", {}, el("summary", {}, "Argument provenance"), el("pre", {}, JSON.stringify(r.provenance, null, 2))) : null);
}

function timelineItem(it) {
  const d = it.data || {};
  const when = el("time", { datetime: it.at }, it.at.slice(11, 23));
  let title; let body = [];
  switch (it.kind) {
    case "user_message":
      title = [badge("user", "user"), d.original_request ? badge("original request") : null];
      body = [el("p", { class: "quote" }, d.text)];
      break;
    case "system_prompt":
      title = [badge("system prompt")];
      body = [el("details", {}, el("summary", {}, `${d.chars} characters`), el("p", { class: "quote" }, d.text))];
      break;
    case "tool_result":
    case "action_result": {
      const c = d.classification || {};
      title = [badge(it.kind === "tool_result" ? "tool output" : "action output", "output"), " ", badge(c.class || "unclassified", "class-" + (c.class || "none"))];
      const labels = (c.labels || []).map((l) => typeof l === "string" ? l : JSON.stringify(l));
      body = [el("p", { class: "quote" }, d.summary),
        facts([["Labels", labels.join(", ")], ["Detectors", (c.detectors || []).map((x) => `${x.detector} ×${x.count}`).join(", ")],
          ["Answers", d.call || d.action_id], ["Bytes", d.bytes], ["Instructions seen", (d.instructions || []).length || null],
          ["Unclassified (counts as highest class)", c.defaulted ? "yes" : null]])];
      break;
    }
    case "action":
      title = [badge("action", "action"), ` ${d.tool}.${d.operation} `, el("span", { class: "decision-" + d.decision }, d.decision), ` ${d.rule || "(default)"}`];
      body = [facts([["Steered by an instruction", d.steered ? "yes" : null], ["Names what the user pointed at", d.pointed ? "yes" : null], ["Enforced", d.enforced === false ? "no (monitor)" : null], ["Action", d.action_id]])];
      break;
    case "resolution":
      title = [badge("resolution"), " ", el("span", { class: "decision-" + d.decision }, d.decision), ` ${d.rule || ""}`];
      break;
    case "outcome":
      title = [badge("outcome"), ` upstream ${d.execution ? d.execution.status : "?"}`];
      break;
    case "summary":
      title = [badge("summary"), ` ${d.folded_entries} earlier entries folded (${d.reason})`];
      body = [facts([["Original request", d.original_request], ["Actions", d.action_count], ["Recent decisions", d.recent_decisions]])];
      break;
    default:
      title = [badge(it.kind)];
  }
  return el("li", { class: "tl tl-" + it.kind, "data-kind": it.kind, "data-seq": it.seq },
    el("div", { class: "tl-head" }, when, " ", ...title), ...body, ...(it.receipts || []).map(receiptLine));
}

async function showSession(id) {
  const res = await api("GET", sessionPath(id));
  if (!res.ok) { $("sessions-status").textContent = res.data.error || "failed"; return; }
  const s = res.data;
  $("timeline").hidden = false;
  $("timeline").dataset.session = id;
  $("timeline-title").textContent = "Session " + id;
  $("timeline-facts").textContent = `agent ${s.head.agent}, started ${s.head.started}, last activity ${s.head.last_seen}, ${s.head.entries} entries, ${s.open ? "active" : "closed"}`
    + (s.entries_shown < s.entries_total ? ` — the newest ${s.entries_shown} of ${s.entries_total} entries shown (aarmor context show for all)` : "")
    + (s.receipts_cut ? " — older receipts of this session are beyond the receipts searched" : "");
  $("timeline-verify-result").textContent = "";
  const items = s.items.map(timelineItem);
  if (s.other_receipts.length) items.push(el("li", { class: "tl tl-other" }, el("div", { class: "tl-head" }, badge("receipts without a context entry")), ...s.other_receipts.map(receiptLine)));
  $("timeline-list").replaceChildren(...items);
  $("timeline").scrollIntoView();
}

async function verifySession() {
  const id = $("timeline").dataset.session;
  const out = $("timeline-verify-result");
  out.textContent = "Checking…";
  const res = await api("GET", sessionPath(id) + "/verify");
  if (!res.ok) { out.className = "broken"; out.textContent = res.data.error || "failed"; return; }
  const v = res.data;
  out.className = v.ok ? "verified" : "broken";
  out.textContent = v.ok
    ? `✓ intact: ${v.context.entries} context entries chain to the session's head; ${v.receipts.checked} receipt(s) verify`
    : "✗ " + [...v.context.problems.map((p) => (p.seq !== null ? `entry ${p.seq}: ` : "") + p.problem), ...v.receipts.problems].join("; ");
}

document.addEventListener("DOMContentLoaded", async () => {
  $("login-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const res = await api("POST", "/console/api/login", { token: $("token").value });
    $("token").value = "";
    if (!res.ok) { $("login-error").textContent = res.data.error || "sign-in failed"; return; }
    $("login-error").textContent = "";
    signedIn(res.data);
  });
  // Signing out reloads the page: nothing the last user saw stays in it.
  $("logout").addEventListener("click", async () => { await api("POST", "/console/api/logout", {}); location.reload(); });
  for (const t of TABS) $("tab-" + t).addEventListener("click", () => showTab(t));
  $("search-form").addEventListener("submit", search);
  $("sessions-form").addEventListener("submit", loadSessions);
  $("timeline-verify").addEventListener("click", verifySession);
  const res = await api("GET", "/console/api/session");
  if (res.ok) signedIn(res.data); else signedOut();
});
