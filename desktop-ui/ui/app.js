// The status window: renders what the tray app's `get_status` command returns and redraws on
// every "status" event. No inventory logic here: everything shown comes from the agent.
"use strict";

const { invoke } = window.__TAURI__.core;
const { listen } = window.__TAURI__.event;

const el = (tag, attrs = {}, ...children) => {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "class") e.className = v;
    else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v);
  }
  for (const c of children.flat()) if (c !== null && c !== undefined) e.append(c);
  return e;
};

function ago(unix) {
  if (!unix) return "not scanned yet";
  const s = Math.max(0, Math.round(Date.now() / 1000 - unix));
  if (s < 60) return "scanned just now";
  if (s < 3600) return `scanned ${Math.round(s / 60)} min ago`;
  return `scanned ${Math.round(s / 3600)} h ago`;
}

// The last two parts of a path ("~/.cursor/mcp.json" reads better than the full path).
function shortPath(p) {
  const parts = p.split(/[\\/]/).filter(Boolean);
  return parts.slice(-2).join("/");
}

// At the server's entry when `serverId` is given and the agent located it.
function openConfig(path, serverId) {
  invoke("open_config", { path, serverId }).catch((e) => showError(e));
}

// A one-line message under the header (errors of the buttons below; alert() is not available).
function showError(message) {
  const box = document.getElementById("action-error");
  box.textContent = String(message);
  box.hidden = false;
}

// Disable / pin / undo through the agent; the next status from the agent redraws the window.
function act(command, serverId, button) {
  button.disabled = true;
  document.getElementById("action-error").hidden = true;
  invoke(command, { serverId }).catch((e) => { button.disabled = false; showError(e); });
}

// What the open exception form asks about: { serverId, ruleId, about }.
let exceptionFor = null;
function askException(finding) {
  openExceptionForm({
    serverId: finding.server_ids[0] || "",
    ruleId: "",
    about: `${finding.title} — ${finding.server_names[0] || "this machine"} (every policy rule for this server)`,
  });
}

function openExceptionForm(target) {
  exceptionFor = target;
  document.getElementById("exception-about").textContent = target.about;
  document.getElementById("exception-error").textContent = "";
  document.getElementById("exception").showModal();
  document.getElementById("exception-reason").focus();
}

function renderFinding(f) {
  const where = f.server_names.length ? `${f.server_names.join(", ")}` : "";
  return el("article", { class: "card finding", "aria-label": `${f.severity}: ${f.title}` },
    el("h3", {}, el("span", { class: `sev ${f.severity}` }, f.severity), f.title),
    el("p", { class: "why" }, el("strong", {}, "Why: "), f.why),
    where ? el("p", { class: "where" }, `Server: ${where} · ${f.id} · OWASP ${f.owasp}`) : null,
    el("div", { class: "fix" }, el("strong", {}, "Fix:"),
      el("ol", { class: "steps" }, f.steps.map((s) => el("li", {}, s)))),
    el("div", { class: "actions" },
      f.config_paths.map((p) => el("button", { type: "button", onclick: () => openConfig(p), title: p }, `Open ${shortPath(p)}`)),
      el("button", { type: "button", onclick: () => invoke("snooze_finding", { key: f.key, hours: 24 }) }, "Snooze 1 day"),
      el("button", { type: "button", onclick: () => askException(f) }, "Request an exception…"))
  );
}

function renderServers(clients) {
  if (!clients.length) return el("p", { class: "empty" }, "No MCP servers configured for you on this machine.");
  return clients.map((c) => [
    el("div", { class: "client" }, c.client),
    el("table", {},
      el("thead", {}, el("tr", {}, el("th", { scope: "col" }, "Server"), el("th", { scope: "col" }, "Runs"),
        el("th", { scope: "col" }, "Findings"), el("th", { scope: "col" }, "Actions"))),
      el("tbody", {}, c.servers.map((s) => el("tr", {},
        el("td", {}, s.name, s.disabled ? " (disabled)" : ""),
        el("td", {}, el("code", {}, s.launch)),
        el("td", {}, s.findings ? el("span", { class: `sev ${s.worst}` }, `${s.findings} · ${s.worst}`) : "none"),
        el("td", { class: "row-actions" },
          el("button", { type: "button", onclick: () => openConfig(s.config_path, s.id), title: s.line ? `${s.config_path}:${s.line}` : s.config_path, "aria-label": s.line ? `Open ${s.config_path} at line ${s.line}` : `Open ${s.config_path}` }, "Open"),
          s.pin ? el("button", { type: "button", title: `Launch ${s.pin.pinned_spec}, the version ${s.name} already runs (you can undo it)`, "aria-label": `Pin ${s.name} to ${s.pin.version}`, onclick: (ev) => act("pin_version", s.id, ev.currentTarget) }, `Pin to ${s.pin.version}`) : null,
          s.disabled ? null : el("button", { type: "button", class: "danger", title: "Turn this server off in its config file (you can undo it)", "aria-label": `Disable ${s.name}`, onclick: (ev) => act("disable_server", s.id, ev.currentTarget) }, "Disable")))))),
  ]);
}

// The newest exception request about a server (for a rule, or for every rule), if any.
function requestFor(st, serverId, ruleId) {
  return st.exception_requests.find((r) => r.server_id === serverId && (r.rule_id === ruleId || r.rule_id === "*"));
}

// A server the policy blocked: what, why, by which rule, who to ask, and what I can do.
function renderBlocked(q, st) {
  const c = st.contact;
  const asked = requestFor(st, q.server_id, q.rule_id);
  return el("article", { class: "card quarantine", "aria-label": `${q.server_name} blocked by policy` },
    el("h3", {}, el("span", { class: "sev high" }, "blocked"), `${q.server_name} (${q.client}) was turned off by your organisation's policy`),
    el("p", { class: "why" }, el("strong", {}, "Why: "), q.reason),
    el("p", { class: "where" }, [`Rule ${q.rule_id}`, q.since_unix ? `since ${new Date(q.since_unix * 1000).toLocaleString()}` : null, q.config_path || null].filter(Boolean).join(" · ")),
    el("p", {}, q.undo_allowed
      ? "The policy lets you turn it back on yourself: re-enable it in its config file."
      : `${q.client} will not start it while the rule applies. If you need it, ask for an exception.`),
    c ? el("p", { class: "contact-line" }, el("strong", {}, "Contact: "), [c.name, c.email, c.url].filter(Boolean).join(" · ")) : null,
    el("div", { class: "actions" },
      asked && asked.status === "pending"
        ? el("span", { class: "hint" }, `Exception requested ${new Date(asked.requested_at_unix * 1000).toLocaleString()}: waiting for an answer`)
        : el("button", { type: "button", onclick: () => openExceptionForm({ serverId: q.server_id, ruleId: q.rule_id, about: `${q.server_name} (${q.client}), blocked by rule ${q.rule_id}` }) }, "Request an exception…"),
      q.config_path ? el("button", { type: "button", onclick: () => openConfig(q.config_path), title: q.config_path }, `Open ${shortPath(q.config_path)}`) : null));
}

const STATUS_WORDS = { pending: "waiting for an answer", approved: "approved", denied: "denied", expired: "expired", unknown: "unknown" };

function render(st) {
  const state = document.getElementById("state");
  state.className = `state ${st.state}`;
  const bySeverity = ["critical", "high", "medium", "low"]
    .map((sev) => [sev, st.findings.filter((f) => f.severity === sev).length])
    .filter(([, n]) => n > 0)
    .map(([sev, n]) => `${n} ${sev}`);
  state.textContent = st.count ? `${st.state_label}: ${bySeverity.join(" · ")}` : st.state_label;
  // The window title (taskbar, window switcher) says the same; the app copies it to the window.
  document.title = `Muster — ${state.textContent}`;
  const meta = [st.user && `for ${st.user}`, st.connection, ago(st.scanned_at_unix)].filter(Boolean).join(" · ");
  document.getElementById("meta").textContent = st.last_error ? `${meta} · ${st.last_error}` : meta;

  const policy = document.getElementById("policy");
  const items = [
    ...st.quarantines.map((q) => q.origin === "developer"
      ? el("article", { class: "card quarantine" },
        el("h3", {}, el("span", { class: "sev off" }, "disabled"), `${q.server_name} (${q.client})`),
        el("p", {}, `${q.reason} ${q.client} will not start it until you undo this.`),
        el("p", { class: "where" }, `Since ${new Date(q.since_unix * 1000).toLocaleString()} · ${q.config_path}`),
        el("div", { class: "actions" },
          el("button", { type: "button", onclick: (ev) => act("undo_disable", q.server_id, ev.currentTarget), "aria-label": `Undo: enable ${q.server_name} again` }, "Undo"),
          q.config_path ? el("button", { type: "button", onclick: () => openConfig(q.config_path), title: q.config_path }, `Open ${shortPath(q.config_path)}`) : null))
      : renderBlocked(q, st)),
    ...st.pins.map((p) => el("article", { class: "card pin", "aria-label": `${p.server_name} pinned to ${p.version}` },
      el("h3", {}, el("span", { class: "sev pinned" }, "pinned"), `${p.server_name} (${p.client}) runs ${p.package} ${p.version}`),
      el("p", {}, `You pinned it to the version it already ran; ${p.client} will not pick up a newer release until you change it.`),
      el("p", { class: "where" }, `Since ${new Date(p.since_unix * 1000).toLocaleString()} · ${p.config_path}`),
      el("div", { class: "actions" },
        el("button", { type: "button", onclick: (ev) => act("undo_pin", p.server_id, ev.currentTarget), "aria-label": `Undo: unpin ${p.server_name}` }, "Undo"),
        p.config_path ? el("button", { type: "button", onclick: () => openConfig(p.config_path, p.server_id), title: p.config_path }, `Open ${shortPath(p.config_path)}`) : null))),
    ...st.exception_requests.map((r) => el("article", { class: "card request", "aria-label": `Exception request: ${STATUS_WORDS[r.status] || r.status}` },
      el("h3", {}, el("span", { class: `sev req-${r.status}` }, STATUS_WORDS[r.status] || r.status), `Exception for ${r.server_name || r.server_id}`),
      el("p", {}, el("strong", {}, "You asked: "), r.reason),
      r.answer ? el("p", {}, el("strong", {}, "Answer: "), r.answer) : null,
      el("p", { class: "where" }, [
        r.rule_id === "*" ? "Every policy rule" : `Rule ${r.rule_id}`,
        `asked ${new Date(r.requested_at_unix * 1000).toLocaleString()}`,
        r.status === "approved" && r.expires_at_unix ? `exception until ${new Date(r.expires_at_unix * 1000).toLocaleString()}` : null,
      ].filter(Boolean).join(" · ")))),
    ...st.pending_actions.map((p) => el("article", { class: "card" },
      el("h3", {}, `Action pending on ${p.server_id}`), el("p", {}, p.reason),
      el("p", { class: "where" }, `Deadline ${new Date(p.deadline_unix * 1000).toLocaleString()}`))),
  ];
  policy.hidden = items.length === 0;
  document.getElementById("policy-list").replaceChildren(...items);

  const findings = st.findings.length ? st.findings.map(renderFinding)
    : [el("p", { class: "empty" }, st.state === "offline" ? "The Muster agent is not running, so there is nothing to show." : "Nothing to fix. 🎉")];
  document.getElementById("finding-list").replaceChildren(...findings);
  document.getElementById("server-list").replaceChildren(...renderServers(st.clients).flat());

  document.getElementById("problems").hidden = st.problems.length === 0;
  document.getElementById("problem-list").replaceChildren(...st.problems.map((p) => el("li", {}, `${p.path}: ${p.message}`)));
  const c = st.contact;
  document.getElementById("contact").textContent = c ? `Questions? ${[c.name, c.email, c.url].filter(Boolean).join(" · ")}` : "";
  document.getElementById("exception-unavailable").hidden = st.exceptions_available;
  document.getElementById("exception-send").disabled = !st.exceptions_available;
}

document.getElementById("exception-cancel").addEventListener("click", () => document.getElementById("exception").close());
document.getElementById("exception-form").addEventListener("submit", (ev) => {
  ev.preventDefault();
  const reason = document.getElementById("exception-reason").value.trim();
  const target = exceptionFor || { serverId: "", ruleId: "" };
  invoke("request_exception", { serverId: target.serverId, ruleId: target.ruleId || null, reason })
    .then(() => { document.getElementById("exception").close(); document.getElementById("exception-reason").value = ""; })
    .catch((e) => { document.getElementById("exception-error").textContent = e; });
});

listen("status", (ev) => render(ev.payload));
invoke("get_status").then((st) => {
  render(st);
  // Opened at a section (`muster-tray --open=servers|findings|policy|exception`).
  const section = location.hash.slice(1);
  const blocked = st.quarantines.find((q) => q.origin === "policy");
  if (section === "exception" && blocked) openExceptionForm({ serverId: blocked.server_id, ruleId: blocked.rule_id, about: `${blocked.server_name} (${blocked.client}), blocked by rule ${blocked.rule_id}` });
  else if (section === "exception" && st.findings.length) askException(st.findings[0]);
  else if (section === "servers") document.getElementById("servers-h").scrollIntoView();
  else if (section === "findings") document.getElementById("findings").focus();
  else if (section === "policy" && !document.getElementById("policy").hidden) document.getElementById("policy").scrollIntoView();
});
