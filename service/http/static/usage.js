// The page's usage panel: today's and this week's tokens and cost per provider and model, cost
// by day as an inline SVG bar chart, each provider's budget gauge, and the latest executions.
// Everything comes from this daemon's ledger (GET /v1/usage, GET /v1/executions); a `usage`
// event on /v1/events refreshes it, at most once a second.

const $ = (selector, root = document) => root.querySelector(selector);
const SVG = "http://www.w3.org/2000/svg";
const DAYS = 14;
let api = null;
let pending = null;

const money = (usd) => (usd >= 100 ? `$${usd.toFixed(0)}` : usd >= 1 ? `$${usd.toFixed(2)}` : `$${usd.toFixed(4)}`);
const tokens = (n) => (n >= 1e6 ? `${(n / 1e6).toFixed(1)}M` : n >= 1e4 ? `${Math.round(n / 1e3)}k` : `${n}`);

function midnight(daysAgo = 0) {
  const day = new Date();
  day.setHours(0, 0, 0, 0);
  day.setDate(day.getDate() - daysAgo);
  return day.toISOString();
}

function cost(totals) {
  if (totals.executions && totals.unpriced === totals.executions) return "no price";
  return money(totals.cost_usd) + (totals.unpriced ? "*" : "");
}

export function startUsage(call) {
  api = call;
  refresh();
}

export function onUsageEvent() {
  if (pending) return;
  pending = setTimeout(() => { pending = null; refresh(); }, 1000);
}

async function refresh() {
  try {
    const query = (group, since) => api("GET", `/v1/usage?group_by=${group}&since=${encodeURIComponent(since)}`);
    const [todayP, weekP, todayM, weekM, days, latest] = await Promise.all([
      query("provider", midnight(0)),
      query("provider", midnight(6)),
      query("model", midnight(0)),
      query("model", midnight(6)),
      query("day", midnight(DAYS - 1)),
      api("GET", "/v1/executions?limit=10"),
    ]);
    totalsTable($("#usage-providers"), todayP, weekP);
    totalsTable($("#usage-models"), todayM, weekM);
    chart(days);
    executions(latest.executions);
    $("#usage-panel").dataset.loaded = "true";
  } catch (error) {
    $("#usage-note").textContent = `Usage unavailable: ${error.message}`;
  }
}

function totalsTable(table, today, week) {
  const body = table.tBodies[0];
  body.replaceChildren();
  const todays = new Map(today.groups.map((g) => [g.key, g]));
  for (const group of week.groups) {
    const now = todays.get(group.key) || { executions: 0, total_tokens: 0, cost_usd: 0, unpriced: 0 };
    const row = body.insertRow();
    row.dataset.key = group.key || "";
    for (const text of [group.key || "(none)", `${now.executions}`, tokens(now.total_tokens), cost(now),
      `${group.executions}`, tokens(group.total_tokens), cost(group)]) {
      row.insertCell().textContent = text;
    }
  }
  if (!week.groups.length) {
    const cell = body.insertRow().insertCell();
    cell.colSpan = 7;
    cell.className = "muted";
    cell.textContent = "Nothing this week yet.";
  }
  const unpriced = week.totals.unpriced;
  $("#usage-note").textContent = unpriced
    ? `${unpriced} execution(s) this week ran a model without a price (*): set one in settings (prices).`
    : "";
}

// Cost per local day (tokens when nothing has a price), one bar a day, the last DAYS days.
function chart(report) {
  const byDay = new Map(report.groups.map((g) => [g.key, g]));
  const days = [];
  for (let back = DAYS - 1; back >= 0; back--) {
    const day = new Date();
    day.setDate(day.getDate() - back);
    const key = `${day.getFullYear()}-${String(day.getMonth() + 1).padStart(2, "0")}-${String(day.getDate()).padStart(2, "0")}`;
    days.push({ key, totals: byDay.get(key) });
  }
  const priced = report.totals.cost_usd > 0;
  const value = (t) => (t ? (priced ? t.cost_usd : t.total_tokens) : 0);
  const top = Math.max(...days.map((d) => value(d.totals)), priced ? 0.0001 : 1);
  const width = 28 * DAYS, height = 120;
  const svg = document.createElementNS(SVG, "svg");
  svg.setAttribute("viewBox", `0 0 ${width} ${height + 18}`);
  svg.setAttribute("role", "img");
  svg.setAttribute("aria-label", `${priced ? "Cost" : "Tokens"} per day, last ${DAYS} days`);
  days.forEach((d, i) => {
    const h = Math.round((value(d.totals) / top) * height);
    const bar = document.createElementNS(SVG, "rect");
    bar.setAttribute("x", `${i * 28 + 4}`);
    bar.setAttribute("y", `${height - h}`);
    bar.setAttribute("width", "20");
    bar.setAttribute("height", `${Math.max(h, d.totals ? 1 : 0)}`);
    bar.setAttribute("class", "bar");
    bar.dataset.day = d.key;
    const title = document.createElementNS(SVG, "title");
    title.textContent = d.totals
      ? `${d.key}: ${cost(d.totals)}, ${tokens(d.totals.total_tokens)} tokens, ${d.totals.executions} runs`
      : `${d.key}: nothing`;
    bar.append(title);
    const label = document.createElementNS(SVG, "text");
    label.setAttribute("x", `${i * 28 + 14}`);
    label.setAttribute("y", `${height + 14}`);
    label.setAttribute("class", "axis");
    label.textContent = d.key.slice(8);
    svg.append(bar, label);
  });
  $("#usage-chart").replaceChildren(svg);
  $("#usage-chart-title").textContent = `${priced ? "Cost" : "Tokens"} per day (last ${DAYS} days, peak ${priced ? money(top) : tokens(top)})`;
}

function executions(rows) {
  const body = $("#usage-latest").tBodies[0];
  body.replaceChildren();
  for (const r of rows) {
    const row = body.insertRow();
    row.className = r.outcome;
    for (const text of [new Date(r.ended_at).toLocaleTimeString(), r.provider, r.model, r.agent || "",
      r.outcome + (r.error_code ? ` (${r.error_code})` : ""),
      r.usage ? tokens(r.usage.total_tokens) : "not reported",
      !r.usage || r.usage.cost_usd == null ? "no price" : money(r.usage.cost_usd)]) {
      row.insertCell().textContent = text;
    }
  }
}

// A provider's budget gauge and governor, for its card.
export function budgetLine(p) {
  const b = p.budget, g = p.governor;
  const parts = [];
  if (b.daily_budget_usd != null) {
    parts.push(`${money(b.spent_today_usd)} of ${money(b.daily_budget_usd)} today${b.exceeded ? " — spent, executions refused until midnight" : ""}`);
  } else {
    parts.push(`${money(b.spent_today_usd)} today, no budget`);
  }
  const limit = g.effective_limit < g.max_concurrent ? `${g.effective_limit} (lowered after a 429; setting ${g.max_concurrent})` : `${g.max_concurrent}`;
  parts.push(`running ${g.in_flight} of ${limit}${g.queued ? `, ${g.queued} waiting` : ""}`);
  return parts.join(" · ");
}

export function showBudget(element, p) {
  const meter = $(".budget-meter", element);
  const b = p.budget;
  meter.hidden = b.daily_budget_usd == null;
  if (!meter.hidden) {
    meter.max = b.daily_budget_usd || 1;
    meter.high = 0.8 * meter.max;
    meter.low = 0.5 * meter.max;
    meter.optimum = 0;
    meter.value = Math.min(b.spent_today_usd, meter.max);
  }
  $(".budget", element).textContent = budgetLine(p);
}
