// The status and settings page. Plain ES module, no build step, no network beyond this daemon.
// Auth: the link's #token= fragment (never sent to any server) is traded once for a page token,
// kept in this tab's sessionStorage and sent as a bearer token. No cookies: any server on
// 127.0.0.1 would receive them.

import { onUsageEvent, showBudget, startUsage } from "./usage.js";

const state = { providers: new Map(), models: new Map(), routes: [], lastEventId: null, retryMs: 500 };
const $ = (selector, root = document) => root.querySelector(selector);
const TOKEN_KEY = "kata-providers-page-token";

class SignedOut extends Error {}

function authHeaders(extra = {}) {
  const token = sessionStorage.getItem(TOKEN_KEY);
  if (!token) throw new SignedOut("not signed in");
  return { ...extra, Authorization: `Bearer ${token}` };
}

function signedOut(message) {
  sessionStorage.removeItem(TOKEN_KEY);
  $("#signed-out-reason").textContent = message;
  $("#signed-out").hidden = false;
  $("#app").hidden = true;
  setLive("signed out");
}

async function authFetch(path, init = {}) {
  const response = await fetch(path, { ...init, credentials: "omit", headers: authHeaders(init.headers) });
  if (response.status === 401) {
    signedOut("Your page session has ended.");
    throw new SignedOut("signed out");
  }
  return response;
}

async function signIn() {
  const match = /(?:^#|&)token=([^&]+)/.exec(location.hash);
  if (match) {
    // Remove the code from the address bar (and history) before anything else.
    history.replaceState(null, "", location.pathname + location.search);
    const response = await fetch("/v1/page/session", {
      method: "POST", credentials: "omit", headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ code: decodeURIComponent(match[1]) }),
    });
    const data = await response.json().catch(() => ({}));
    if (!response.ok) {
      signedOut(data.message || "That page link is not valid.");
      return false;
    }
    sessionStorage.setItem(TOKEN_KEY, data.token);
    scheduleRenewal(data.expires_in_s);
  }
  if (!sessionStorage.getItem(TOKEN_KEY)) {
    signedOut("You are not signed in.");
    return false;
  }
  await renew();
  const ok = sessionStorage.getItem(TOKEN_KEY) !== null;
  if (ok) {
    $("#signed-out").hidden = true;
    $("#app").hidden = false;
  }
  return ok;
}

async function start() {
  if (await signIn() && !state.listening) {
    state.listening = true;
    listen();
    startUsage(api);
  }
}

async function renew() {
  try {
    const response = await authFetch("/v1/page/session/renew", { method: "POST" });
    if (response.ok) scheduleRenewal((await response.json()).expires_in_s);
  } catch (error) {
    if (!(error instanceof SignedOut)) setTimeout(renew, 10000);
  }
}

function scheduleRenewal(expiresInS) {
  clearTimeout(state.renewTimer);
  state.renewTimer = setTimeout(renew, Math.max(5, expiresInS / 3) * 1000);
}

async function api(method, path, body) {
  const init = { method, headers: {} };
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const response = await authFetch(path, init);
  const data = await response.json().catch(() => ({}));
  if (!response.ok) throw Object.assign(new Error(data.message || response.statusText), { body: data });
  return data;
}

// Server-sent events over fetch (EventSource cannot send an Authorization header, nor set
// Last-Event-ID itself after a reload).
async function* sse(response) {
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += decoder.decode(value, { stream: true }).replace(/\r\n?/g, "\n");
    let end;
    while ((end = buffer.indexOf("\n\n")) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      const event = { event: "message", id: null, data: [] };
      for (const line of block.split("\n")) {
        if (line.startsWith(":")) continue;
        const at = line.indexOf(":");
        const name = at < 0 ? line : line.slice(0, at);
        const value = at < 0 ? "" : line.slice(at + 1).replace(/^ /, "");
        if (name === "event") event.event = value;
        else if (name === "id") event.id = value;
        else if (name === "data") event.data.push(value);
      }
      if (event.data.length) yield { ...event, data: JSON.parse(event.data.join("\n")) };
    }
  }
}

async function listen() {
  for (;;) {
    try {
      const headers = state.lastEventId ? { "Last-Event-ID": state.lastEventId } : {};
      const response = await authFetch("/v1/events", { headers });
      if (!response.ok) throw new Error(`events: ${response.status}`);
      setLive("live");
      state.retryMs = 500;
      for await (const event of sse(response)) {
        if (event.id) state.lastEventId = event.id;
        onEvent(event.data);
      }
    } catch (error) {
      if (error instanceof SignedOut) return;
      setLive(`reconnecting (${error.message})`);
    }
    await new Promise((resolve) => setTimeout(resolve, state.retryMs));
    state.retryMs = Math.min(state.retryMs * 2, 10000);
  }
}

function setLive(text) {
  $("#live").textContent = text;
}

function onEvent(event) {
  if (event.type === "snapshot") {
    $("#version").textContent = event.daemon.version;
    showSettings(event.settings);
    $("#demo").hidden = !event.daemon.demo;
    const listed = new Set(event.providers.map((p) => p.id));
    for (const id of [...state.providers.keys()]) if (!listed.has(id)) forget(id);
    for (const provider of event.providers) render(provider);
    providerOptions();
    loadRoutes();
    for (const problem of event.problems) log(`daemon: ${problem.message}`);
    log(`connected: ${event.providers.map((p) => `${p.display_name} ${verdict(p).text}`).join("; ")}`);
  } else if (event.type === "provider_status") {
    const before = state.providers.get(event.provider.id);
    render(event.provider);
    const now = verdict(event.provider).text;
    if (!before || verdict(before).text !== now) log(`${event.provider.display_name}: ${now}`);
    showPlans();
  } else if (event.type === "provider_added") {
    render(event.provider);
    providerOptions();
    log(`${event.provider.display_name}: added (${verdict(event.provider).text})`);
  } else if (event.type === "provider_removed") {
    const gone = state.providers.get(event.provider);
    forget(event.provider);
    providerOptions();
    log(`${gone ? gone.display_name : event.provider}: removed`);
  } else if (event.type === "execution_finished") {
    const outcome = event.state === "succeeded" ? "done" : `${event.state} (${event.error_code})`;
    const mode = event.auth_mode.replace("_", " ") + (event.fallback_applied ? ", fallback" : "");
    log(`${event.provider} · ${event.model} · ${mode}: ${outcome} in ${Math.round(event.duration_ms)} ms`);
  } else if (event.type === "usage") {
    onUsageEvent(event);
  } else if (event.type === "provider_error") {
    log(`${event.provider}: ${event.error.message}`);
    showPlans();
  } else if (event.type === "settings") {
    showSettings(event.settings);
  } else if (event.type === "daemon_error") {
    log(`daemon: ${event.error.message}`);
  } else if (event.type === "routes") {
    showRoutes(event.routes);
  } else if (event.type === "models_updated") {
    log(`${event.provider}: ${event.count} models (${event.provenance})`);
  }
}

// The provider list changes at run time: every list of providers is rebuilt from it. The test
// prompt may also name a route (its value `route:<name>`).
function providerOptions() {
  for (const select of [$("#default-provider"), $("#prompt-provider")]) {
    const chosen = select.value;
    for (const option of [...select.options].slice(1)) option.remove();
    for (const p of state.providers.values()) select.add(new Option(p.display_name, p.id));
    if (select.id === "prompt-provider") {
      for (const route of state.routes || []) select.add(new Option(`route: ${route.name}`, `route:${route.name}`));
    }
    select.value = [...select.options].some((o) => o.value === chosen) ? chosen : "";
  }
}

async function loadRoutes() {
  try {
    showRoutes((await api("GET", "/v1/routes")).routes);
  } catch (error) {
    $("#route-feedback").textContent = error.message;
  }
}

function targetText(t) {
  return t.model ? `${t.provider}:${t.model}` : t.provider;
}

function showRoutes(routes) {
  state.routes = routes;
  const list = $("#routes-list");
  list.replaceChildren();
  for (const route of routes) {
    const item = document.createElement("li");
    item.id = `route-${route.name}`;
    const text = document.createElement("span");
    text.textContent = `${route.name}: ${route.targets.map(targetText).join(", then ")}`;
    const remove = document.createElement("button");
    remove.type = "button";
    remove.textContent = "Remove";
    remove.setAttribute("aria-label", `Remove route ${route.name}`);
    remove.addEventListener("click", async () => {
      try {
        await api("DELETE", `/v1/routes/${encodeURIComponent(route.name)}`);
      } catch (error) {
        $("#route-feedback").textContent = error.message;
      }
    });
    const plan = Object.assign(document.createElement("span"), { className: "muted plan" });
    plan.dataset.testid = `plan-${route.name}`;
    item.append(text, " ", remove, " ", plan);
    list.append(item);
  }
  if (!routes.length) list.append(Object.assign(document.createElement("li"), { className: "muted", textContent: "No routes yet." }));
  providerOptions();
  showPlans();
}

// Where each route's next request would go now, and why each target before it is passed over
// (the daemon's own judgement: GET /v1/routes/{name}/plan). Refreshed when a provider changes.
let planTimer = null;
function showPlans() {
  clearTimeout(planTimer);
  planTimer = setTimeout(async () => {
    for (const route of state.routes || []) {
      const slot = document.querySelector(`[data-testid="plan-${route.name}"]`);
      if (!slot) continue;
      try {
        const plan = await api("GET", `/v1/routes/${encodeURIComponent(route.name)}/plan`);
        const skipped = plan.targets.filter((t, n) => plan.serves === null || n < plan.serves);
        const why = skipped.map((t) => `${targetText(t)} ${t.code}${t.retry_after_s ? ` (${Math.ceil(t.retry_after_s)} s)` : ""}`);
        const serving = plan.serves === null ? "none would serve" : `now ${targetText(plan.targets[plan.serves])}`;
        slot.textContent = `— ${serving}${why.length ? `; passing over ${why.join(", ")}` : ""}`;
      } catch (error) {
        slot.textContent = `— ${error.message}`;
      }
    }
  }, 100);
}

async function addRoute(event) {
  event.preventDefault();
  const form = $("#add-route");
  const name = form.elements.name.value.trim();
  const targets = form.elements.targets.value.split(",").map((t) => t.trim()).filter(Boolean).map((t) => {
    const [provider, ...model] = t.split(":");
    return model.length ? { provider, model: model.join(":") } : { provider };
  });
  try {
    await api("PUT", `/v1/routes/${encodeURIComponent(name)}`, { targets });
    form.reset();
    $("#route-feedback").textContent = `Saved ${name}.`;
  } catch (error) {
    $("#route-feedback").textContent = error.message;
  }
}

function forget(id) {
  state.providers.delete(id);
  document.getElementById(`card-${id}`)?.remove();
}

async function addProvider(event) {
  event.preventDefault();
  const form = $("#add-provider");
  const feedback = $("#add-feedback");
  const field = (name) => form.elements[name].value.trim();
  const body = {
    id: field("id"),
    display_name: field("display_name") || field("id"),
    wire: field("wire"),
    base_url: field("base_url"),
    auth: field("auth"),
  };
  if (field("default_model")) body.default_model = field("default_model");
  if (field("api_key")) body.api_key = field("api_key");
  feedback.textContent = "Adding…";
  try {
    const added = await api("POST", "/v1/providers", body);
    render(added);
    providerOptions();
    form.reset();
    feedback.textContent = `Added ${added.display_name}: ${verdict(added).text}`;
  } catch (error) {
    form.elements.api_key.value = "";
    feedback.textContent = error.message;
  }
}

function showSettings(settings) {
  const form = $("#daemon-settings");
  form.elements.default_provider.value = settings.default_provider || "";
  form.elements.openai_chatgpt_backend.checked = settings.openai_chatgpt_backend;
}

async function saveDaemonSettings() {
  const form = $("#daemon-settings");
  const feedback = $("#daemon-feedback");
  feedback.textContent = "Saving…";
  try {
    showSettings(await api("PUT", "/v1/settings", {
      default_provider: form.elements.default_provider.value || null,
      openai_chatgpt_backend: form.elements.openai_chatgpt_backend.checked,
    }));
    feedback.textContent = "Saved.";
  } catch (error) {
    feedback.textContent = `Not saved: ${error.message}`;
  }
}

function log(text) {
  const item = document.createElement("li");
  item.textContent = `${new Date().toLocaleTimeString()} ${text}`;
  $("#log").prepend(item);
}

function describeAuth(p) {
  const resolved = p.resolved_mode ? p.resolved_mode.replace("_", " ") : "none";
  return `${resolved} (requested ${p.requested_mode.replace("_", " ")})`;
}

function describeKey(key) {
  if (key.state === "missing") return `missing; new keys go to ${key.store || "?"}`;
  return `${key.state} ${key.hint || ""} from ${key.source}; new keys go to ${key.store || "?"}`;
}

function describeSession(session) {
  const parts = [session.state.replace("_", " ")];
  if (session.kind) parts.push(session.kind.replaceAll("_", " "));
  if (session.account) parts.push(session.account);
  if (session.source) parts.push(`from ${session.source}`);
  return parts.join(" · ");
}

function countdown(expiresAt) {
  if (!expiresAt) return "";
  const seconds = Math.round((Date.parse(expiresAt) - Date.now()) / 1000);
  if (seconds <= 0) return " · expired";
  const h = Math.floor(seconds / 3600), m = Math.floor((seconds % 3600) / 60), s = seconds % 60;
  return ` · expires in ${h ? `${h}h ` : ""}${m}m ${s}s`;
}

function card(id) {
  let element = document.getElementById(`card-${id}`);
  if (element) return element;
  element = $("#card").content.firstElementChild.cloneNode(true);
  element.id = `card-${id}`;
  element.dataset.provider = id;
  const settings = $(".settings", element);
  settings.addEventListener("change", () => saveSettings(id, settings));
  const keyForm = $(".key-form", element);
  keyForm.addEventListener("submit", (event) => { event.preventDefault(); saveKey(id, keyForm); });
  $(".remove", element).addEventListener("click", () =>
    act(id, "DELETE", `/v1/providers/${id}/api-key`, undefined, "Removing the key…",
      (p) => `Key removed. ${verdict(p).text}`));
  $(".check-now", element).addEventListener("click", () =>
    act(id, "POST", `/v1/providers/${id}/check`, undefined, "Checking…",
      (p) => `Checked: ${verdict(p).text}${p.health.latency_ms != null ? ` (${Math.round(p.health.latency_ms)} ms)` : ""}`));
  $(".fix", element).addEventListener("click", () => fix(id));
  $(".remove-provider", element).addEventListener("click", async () => {
    const feedback = $(".key-form .feedback", element);
    feedback.textContent = "Removing the provider…";
    try {
      await api("DELETE", `/v1/providers/${id}`);
      forget(id);
      providerOptions();
    } catch (error) {
      feedback.textContent = error.message;
    }
  });
  for (const control of element.querySelectorAll("input, select, button")) {
    control.id = `${id}-${control.name || control.className}`;
  }
  $("#providers").append(element);
  loadModels(id);
  return element;
}

// One plain line per provider: can it be used now, how, and if not, what to do.
function verdict(p) {
  const h = p.health;
  if (h.breaker === "open") {
    const until = h.cooldown_until ? ` until ${new Date(h.cooldown_until).toLocaleTimeString()}` : "";
    return { text: `Paused${until} — ${h.last_failure || "the provider failed repeatedly"}`, tone: "bad", badge: "paused" };
  }
  if (!p.usable) {
    const todo = {
      set_api_key: "add an API key",
      sign_in: "sign in again",
      switch_auth_mode: "switch the auth mode",
    }[p.last_error && p.last_error.action] || (p.last_error ? p.last_error.message : "no credential");
    return { text: `Not ready — ${todo}`, tone: "bad", badge: "not ready" };
  }
  let how;
  if (p.resolved_mode === "token_session") {
    const left = p.token_session.expires_at ? remaining(p.token_session.expires_at) : "";
    how = `token session${left ? `, expires in ${left}` : ""}`;
  } else {
    how = `API key ${p.api_key.hint || ""}`.trim() + (p.fallback_applied ? " (the session failed; fallback)" : "");
  }
  if (h.state === "degraded") return { text: `Ready, degraded — ${how}`, tone: "warn", badge: "degraded" };
  return { text: `Ready — ${how}`, tone: "ok", badge: "ready" };
}

function remaining(expiresAt) {
  const seconds = Math.round((Date.parse(expiresAt) - Date.now()) / 1000);
  if (seconds <= 0) return "";
  if (seconds >= 3600) return `${Math.round(seconds / 3600)} h`;
  if (seconds >= 60) return `${Math.round(seconds / 60)} min`;
  return `${seconds} s`;
}

function fixFor(p) {
  const action = p.last_error && p.last_error.action;
  if (p.usable || !action) return null;
  if (action === "set_api_key") return { label: "Add an API key", run: (id) => $(`#card-${id} input[name=api_key]`).focus() };
  if (action === "switch_auth_mode") {
    const to = p.requested_mode === "api_key" ? "token_session" : "api_key";
    return {
      label: to === "api_key" ? "Use the API key" : "Use the token session",
      run: (id) => act(id, "PUT", `/v1/providers/${id}/settings`, { preferred_auth_mode: to }, "Switching…", (q) => verdict(q).text),
    };
  }
  return null;
}

function fix(id) {
  const found = fixFor(state.providers.get(id));
  if (found) found.run(id);
}

function render(p) {
  state.providers.set(p.id, p);
  const element = card(p.id);
  $(".name", element).textContent = p.display_name + (p.demo ? " (DEMO)" : "");
  const endpoint = $(".endpoint", element);
  endpoint.hidden = !p.endpoint;
  endpoint.textContent = p.endpoint ? `${p.endpoint.spec.base_url} · ${p.endpoint.spec.wire} · ${p.endpoint.scope}` +
    (p.endpoint.insecure ? " · plain http across a network" : "") +
    (p.endpoint.spec.verify_tls ? "" : " · any TLS certificate accepted") : "";
  $(".remove-provider", element).hidden = !p.endpoint;
  $(".settings select[name=preferred_auth_mode]", element).disabled = Boolean(p.endpoint);
  const v = verdict(p);
  const line = $(".verdict", element);
  line.textContent = v.text;
  line.className = `verdict ${v.tone}`;
  const health = $(".health", element);
  health.textContent = v.badge;
  health.className = `badge health ${v.badge.replace(" ", "-")}`;
  health.title = `health: ${p.health.state}`;
  const detail = $(".health-detail", element);
  detail.hidden = !(p.health.last_failure && p.health.state !== "healthy");
  detail.textContent = detail.hidden ? "" : `Last fault: ${p.health.last_failure}` +
    (p.health.cooldown_until ? ` · next try at ${new Date(p.health.cooldown_until).toLocaleTimeString()}` : "");
  const fixButton = $(".fix", element);
  const found = fixFor(p);
  fixButton.hidden = !found;
  fixButton.textContent = found ? found.label : "";
  const auth = $(".auth", element);
  auth.textContent = describeAuth(p);
  if (p.fallback_applied) {
    const badge = document.createElement("span");
    badge.className = "badge fallback";
    badge.textContent = "fallback applied";
    auth.append(badge);
  }
  $(".key", element).textContent = describeKey(p.api_key);
  const session = $(".session", element);
  session.textContent = describeSession(p.token_session) + countdown(p.token_session.expires_at);
  session.dataset.expiresAt = p.token_session.expires_at || "";
  session.dataset.base = describeSession(p.token_session);
  const problem = $(".problem", element);
  const error = p.last_error;
  problem.hidden = !error;
  problem.className = `problem ${p.usable ? "warn" : "error"}`;
  problem.textContent = error ? `${error.message} What to do: ${error.remediation}` : "";
  const settings = $(".settings", element);
  settings.elements.preferred_auth_mode.value = p.settings.preferred_auth_mode;
  settings.elements.allow_api_key_fallback.checked = p.settings.allow_api_key_fallback;
  // Falling back only means something when the session is the requested mode.
  $(".fallback-option", element).hidden = p.settings.preferred_auth_mode !== "token_session";
  const budget = settings.elements.daily_budget_usd;
  if (document.activeElement !== budget) budget.value = p.settings.daily_budget_usd ?? "";
  const most = settings.elements.max_concurrent;
  if (document.activeElement !== most) most.value = p.settings.max_concurrent;
  showBudget(element, p);
  const model = settings.elements.default_model;
  model.dataset.want = p.settings.default_model || "";
  model.value = p.settings.default_model || "";
}

async function loadModels(id) {
  try {
    const answer = await api("GET", `/v1/models?provider=${id}`);
    const group = answer.providers[0];
    const select = $(`#card-${id} select[name=default_model]`);
    select.replaceChildren(new Option("Provider default", ""));
    for (const model of group.models) select.append(new Option(model.display_name || model.id, model.id));
    select.value = select.dataset.want || "";
    select.dataset.provenance = group.provenance;
  } catch (error) {
    log(`${id}: models unavailable (${error.message})`);
  }
}

async function saveSettings(id, form) {
  const body = {
    preferred_auth_mode: form.elements.preferred_auth_mode.value,
    allow_api_key_fallback: form.elements.allow_api_key_fallback.checked,
    default_model: form.elements.default_model.value || null,
    daily_budget_usd: form.elements.daily_budget_usd.value === "" ? null : Number(form.elements.daily_budget_usd.value),
    max_concurrent: Number(form.elements.max_concurrent.value) || 8,
  };
  await act(id, "PUT", `/v1/providers/${id}/settings`, body, "Saving…", (p) => `Saved. ${verdict(p).text}`);
}

async function saveKey(id, form) {
  const value = form.elements.api_key.value.trim();
  if (!value) return;
  const body = { api_key: value, verify: form.elements.verify.checked };
  form.elements.api_key.value = "";
  const saved = await act(id, "PUT", `/v1/providers/${id}/api-key`, body,
    body.verify ? "Verifying with the provider…" : "Saving the key…",
    (p) => `Key saved (${p.api_key.hint}). ${verdict(p).text}`);
  if (saved) loadModels(id);
}

async function act(id, method, path, body, working = "Working…", done = () => "Done.") {
  const problem = $(`#card-${id} .problem`);
  const feedback = $(`#card-${id} .feedback`);
  feedback.textContent = working;
  try {
    const status = await api(method, path, body);
    render(status);
    feedback.textContent = done(status);
    return true;
  } catch (error) {
    problem.hidden = false;
    const remediation = error.body && error.body.remediation ? ` What to do: ${error.body.remediation}` : "";
    problem.textContent = `${error.message}${remediation}`;
    feedback.textContent = "That did not work: see the message above.";
    return false;
  }
}

/** An attached file as the block the daemon takes: an image, or a PDF as a document. */
async function mediaBlock(file) {
  const bytes = new Uint8Array(await file.arrayBuffer());
  let binary = "";
  for (let at = 0; at < bytes.length; at += 0x8000) binary += String.fromCharCode(...bytes.subarray(at, at + 0x8000));
  const source = { type: "base64", media_type: file.type, data: btoa(binary) };
  return file.type === "application/pdf" ? { type: "document", title: file.name, source } : { type: "image", source };
}

async function runPrompt(event) {
  event.preventDefault();
  const form = event.target;
  const output = $("#prompt-output"), meta = $("#prompt-meta"), failure = $("#prompt-error");
  output.textContent = "";
  meta.textContent = "running…";
  failure.hidden = true;
  const thinking = $("#prompt-thinking"), parsed = $("#prompt-parsed");
  thinking.textContent = "";
  $("#prompt-thinking-box").hidden = true;
  parsed.hidden = true;
  const content = [{ type: "text", text: form.elements.prompt.value }];
  const file = form.elements.file.files[0];
  if (file) content.push(await mediaBlock(file));
  const body = { stream: true, messages: [{ role: "user", content }] };
  const chosen = form.elements.provider.value;
  if (chosen.startsWith("route:")) body.route = chosen.slice(6);
  else if (chosen) body.provider = chosen;
  if (form.elements.reasoning.value) body.reasoning = { effort: form.elements.reasoning.value };
  if (form.elements.json.checked) {
    body.response_format = { type: "json_schema", name: "answer", schema: {
      type: "object", properties: { answer: { type: "string" } }, required: ["answer"], additionalProperties: false } };
  }
  if (form.elements.tool.checked) {
    body.tools = [{ name: "get_weather", description: "Weather for a city",
      input_schema: { type: "object", properties: { city: { type: "string" } }, required: ["city"] } }];
  }
  const button = $("#prompt-run");
  button.disabled = true;
  try {
    const response = await authFetch("/v1/executions", {
      method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body),
    });
    if (!response.ok) {
      const error = await response.json();
      throw Object.assign(new Error(error.message), { body: error });
    }
    for await (const { data } of sse(response)) {
      if (data.type === "start") meta.textContent = `${data.provider} · ${data.model} · ${data.auth_mode}`;
      else if (data.type === "text_delta") output.textContent += data.text;
      else if (data.type === "thinking_delta") {
        meta.dataset.thinking = "1";
        $("#prompt-thinking-box").hidden = false;
        thinking.textContent += data.thinking;
      }
      else if (data.type === "tool_call_end") output.textContent += `[tool call ${data.name} ${JSON.stringify(data.arguments)}]`;
      else if (data.type === "retry") meta.textContent += ` · retrying`;
      else if (data.type === "fallback") {
        meta.textContent = `${data.passed_over.provider} passed over (${data.passed_over.code}) · going on to ${data.provider} · ${data.model}`;
      }
      else if (data.type === "done") {
        const r = data.result;
        if (r.parsed !== null && r.parsed !== undefined) {
          parsed.hidden = false;
          parsed.textContent = `parsed: ${JSON.stringify(r.parsed)}`;
        }
        meta.textContent = `${r.provider} · ${r.model} · ${r.auth_mode}${r.fallback_applied ? " (fallback applied)" : ""}`
          + (r.route ? ` · route ${r.route}${r.fallbacks.length ? ` (passed over ${r.fallbacks.map((f) => f.provider).join(", ")})` : ""}` : "")
          + ` · ${r.usage ? `${r.usage.output_tokens} tokens` : "no token counts reported"}`
          + ` · ${Math.round(r.timings.total_ms)} ms`;
      } else if (data.type === "error") {
        throw Object.assign(new Error(data.error.message), { body: data.error });
      }
    }
  } catch (error) {
    failure.hidden = false;
    const remediation = error.body && error.body.remediation ? ` What to do: ${error.body.remediation}` : "";
    failure.textContent = `${error.body ? error.body.code + ": " : ""}${error.message}${remediation}`;
    meta.textContent = "";
  } finally {
    button.disabled = false;
  }
}

function tick() {
  for (const session of document.querySelectorAll(".session[data-expires-at]")) {
    if (session.dataset.expiresAt) session.textContent = session.dataset.base + countdown(session.dataset.expiresAt);
  }
}

$("#prompt-form").addEventListener("submit", runPrompt);
$("#daemon-settings").addEventListener("change", saveDaemonSettings);
$("#add-provider").addEventListener("submit", addProvider);
$("#add-route").addEventListener("submit", addRoute);
setInterval(tick, 1000);
// A link opened in a tab already showing the page changes only the fragment: no reload.
window.addEventListener("hashchange", start);
start();
