// aarmor approvals console. Plain DOM, no dependencies; every value from the server is
// inserted as text (textContent), never as markup.
"use strict";

let csrf = null;
let version = null;
let polling = false;
let storageTimer = null;

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
  version = null;
  if (!polling) poll();
  checkStorage();
  if (!storageTimer) storageTimer = setInterval(() => { if (csrf) checkStorage(); }, 10000);
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
  const res = await api("GET", "/console/api/receipts?limit=100&q=" + encodeURIComponent(q));
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

function showTab(which) {
  const queue = which === "queue";
  $("queue").hidden = !queue;
  $("receipts").hidden = queue;
  $("tab-queue").setAttribute("aria-pressed", String(queue));
  $("tab-receipts").setAttribute("aria-pressed", String(!queue));
  if (!queue) search();
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
  $("logout").addEventListener("click", async () => { await api("POST", "/console/api/logout", {}); signedOut(); });
  $("tab-queue").addEventListener("click", () => showTab("queue"));
  $("tab-receipts").addEventListener("click", () => showTab("receipts"));
  $("search-form").addEventListener("submit", search);
  const res = await api("GET", "/console/api/session");
  if (res.ok) signedIn(res.data); else signedOut();
});
