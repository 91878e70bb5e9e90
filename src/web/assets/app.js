// lookout's desk page: search, live alerts, saved queries and status, over the daemon's HTTP
// API (the endpoints every client uses; the page has no API of its own). No framework and no
// build step. The Content-Security-Policy allows this file and the style sheet only: no inline
// script, no eval, nothing from another origin. What the server says is inserted as text; the
// `<b>` marks of a snippet become <mark> elements, and nothing else in it is markup.

const TOKEN_KEY = "lookout.token";
const PAGE = 20; // hits per page
const FEED_KEPT = 300; // alerts kept on the page; older ones leave it (the log keeps them)
const CHECK_DELAY_MS = 120;

const $ = (id) => document.getElementById(id);

/** An element with attributes (`class`, `text`, `on…` handlers, others as attributes) and children. */
function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "class") node.className = value;
    else if (key === "text") node.textContent = value;
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value === true ? "" : String(value));
  }
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

const ENTITIES = { amp: "&", lt: "<", gt: ">", quot: '"', apos: "'", "#39": "'", "#x27": "'" };

/** HTML-escaped text back to text. */
function unescapeHtml(text) {
  return text.replace(/&(#x[0-9a-f]+|#[0-9]+|[a-z]+);/gi, (all, name) => {
    const lower = name.toLowerCase();
    if (lower in ENTITIES) return ENTITIES[lower];
    if (lower.startsWith("#x")) return String.fromCodePoint(parseInt(lower.slice(2), 16) || 0xfffd);
    if (lower.startsWith("#")) return String.fromCodePoint(parseInt(lower.slice(1), 10) || 0xfffd);
    return all;
  });
}

/** A snippet (HTML-escaped, matches in `<b>…</b>`) as nodes: text, and <mark> for the matches. */
function snippetNodes(snippet) {
  const nodes = [];
  let marked = false;
  for (const part of String(snippet ?? "").split(/(<\/?b>)/)) {
    if (part === "<b>") marked = true;
    else if (part === "</b>") marked = false;
    else if (part) {
      const text = unescapeHtml(part);
      nodes.push(marked ? el("mark", { text }) : document.createTextNode(text));
    }
  }
  return nodes;
}

/** Only http(s) links are links. */
function safeUrl(url) {
  try {
    const parsed = new URL(url);
    return parsed.protocol === "http:" || parsed.protocol === "https:" ? parsed.href : null;
  } catch {
    return null;
  }
}

function showBanner(message) {
  const banner = $("banner");
  banner.textContent = message ?? "";
  banner.hidden = !message;
}

// ---------------------------------------------------------------------------------------------
// The API, with the token when the daemon asks for one.

class ApiError extends Error {
  constructor(status, code, message, column) {
    super(message);
    this.status = status;
    this.code = code;
    this.column = column;
  }
}

let tokenAsked = null;

/** Ask for the token once (every request waiting on a 401 waits on the same prompt). */
function askToken(refused) {
  if (tokenAsked) return tokenAsked;
  const dialog = $("token-dialog");
  const input = $("token-input");
  $("token-problem").textContent = refused ? "That token was refused; try again." : "";
  tokenAsked = new Promise((resolve) => {
    const done = (event) => {
      event.preventDefault();
      const token = input.value.trim();
      if (!token) {
        $("token-problem").textContent = "Give the token of [api] token.";
        return;
      }
      sessionStorage.setItem(TOKEN_KEY, token);
      input.value = "";
      $("token-form").removeEventListener("submit", done);
      dialog.close();
      tokenAsked = null;
      resolve();
    };
    $("token-form").addEventListener("submit", done);
  });
  if (!dialog.open) dialog.showModal();
  input.focus();
  return tokenAsked;
}

/** A 401 for a request sent with `sentWith`: ask again, unless a newer token was given since. */
async function tokenRefused(sentWith) {
  if (sessionStorage.getItem(TOKEN_KEY) !== sentWith) return;
  sessionStorage.removeItem(TOKEN_KEY);
  await askToken(sentWith !== null);
}

function headers(extra = {}) {
  const h = { ...extra };
  const token = sessionStorage.getItem(TOKEN_KEY);
  if (token) h.Authorization = `Bearer ${token}`;
  return h;
}

/** One request; JSON in and out. Throws ApiError with the API's code and message. */
async function api(path, { method = "GET", body, signal, raw = false } = {}) {
  for (let attempt = 0; ; attempt++) {
    const sentWith = sessionStorage.getItem(TOKEN_KEY);
    const init = { method, signal, cache: "no-store", headers: headers({ Accept: raw ? "text/plain" : "application/json" }) };
    if (body !== undefined) {
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    const response = await fetch(path, init);
    if (response.status === 401 && attempt < 5) {
      await tokenRefused(sentWith);
      continue;
    }
    const text = await response.text();
    if (raw && response.ok) return text;
    let data = null;
    try {
      data = text ? JSON.parse(text) : null;
    } catch {
      data = null;
    }
    if (!response.ok) {
      const error = data?.error;
      throw new ApiError(response.status, error?.code ?? "http_" + response.status, error?.message ?? (text || response.statusText), error?.column);
    }
    return data;
  }
}

// ---------------------------------------------------------------------------------------------
// A query text's problem, shown at its column.

/** Show `problem` ({column, message}) under the query text `text` in `box`, or clear it. */
function showProblem(box, text, problem, lints = []) {
  box.replaceChildren();
  if (problem) {
    const chars = Array.from(text);
    const column = Math.max(1, Math.min(problem.column ?? 1, chars.length + 1));
    box.append(
      el("pre", { class: "caret", "aria-hidden": "true" },
        el("span", { text: chars.join("") }), "\n",
        el("span", { class: "mark", text: " ".repeat(column - 1) + "^" })),
      el("p", { class: "error", "data-column": column, text: `column ${column}: ${problem.message}` }),
    );
  }
  for (const lint of lints) {
    box.append(el("p", { class: "lint", "data-column": lint.column, text: `column ${lint.column}: ${lint.message}` }));
  }
}

/** Check `input`'s text as it is typed, showing its problem in `box`. */
function checkAsTyped(input, box) {
  let timer = 0;
  let asked = 0;
  const check = async () => {
    const text = input.value;
    const mine = ++asked;
    if (!text.trim()) {
      showProblem(box, text, null);
      input.removeAttribute("aria-invalid");
      return;
    }
    try {
      const answer = await api("/queries/check", { method: "POST", body: { query: text } });
      if (mine !== asked) return; // an older answer
      showProblem(box, text, answer.error, answer.lints ?? []);
      if (answer.valid) input.removeAttribute("aria-invalid");
      else input.setAttribute("aria-invalid", "true");
    } catch (error) {
      if (mine === asked) showProblem(box, text, { column: 1, message: error.message });
    }
  };
  input.addEventListener("input", () => {
    clearTimeout(timer);
    timer = setTimeout(check, CHECK_DELAY_MS);
  });
  return check;
}

// ---------------------------------------------------------------------------------------------
// Search.

const search = { offset: 0, controller: null };

function searchQuery() {
  const q = $("search-q").value.trim();
  if (!q) return null;
  // Filters are the query language's own clauses: the page speaks no second dialect.
  const clauses = [`(${q})`];
  const from = $("search-from").value;
  const to = $("search-to").value;
  if (from || to) clauses.push(`date:[${from || "*"} TO ${to || "*"}]`);
  const source = $("search-source").value.trim();
  if (source) clauses.push(`source:"${source.replace(/["\\]/g, " ")}"`);
  return clauses.length === 1 ? q : clauses.join(" AND ");
}

/** An indexed article; one just alerted on may wait for its batch's commit (a moment). */
async function documentOf(id) {
  for (let attempt = 0; ; attempt++) {
    try {
      return await api(`/documents/${encodeURIComponent(id)}`);
    } catch (error) {
      if (error.code !== "document_not_found" || attempt >= 5) throw error;
      await new Promise((resolve) => setTimeout(resolve, 300));
    }
  }
}

/** "Article text", opened in place: the indexed article's stored text, fetched when first opened. */
function articleText(id) {
  if (!id) return null;
  const body = el("div", { class: "body" });
  const details = el("details", { class: "text" }, el("summary", { text: "Article text" }), body);
  details.addEventListener("toggle", async () => {
    if (!details.open || details.dataset.loaded) return;
    details.dataset.loaded = "true";
    body.replaceChildren(el("p", { text: "loading…" }));
    try {
      const doc = await documentOf(id);
      const paragraphs = doc.body.split(/\n\s*\n/).map((p) => p.trim()).filter(Boolean);
      body.replaceChildren(...(paragraphs.length ? paragraphs.map((text) => el("p", { text })) : [el("p", { text: "(no text)" })]));
    } catch (error) {
      delete details.dataset.loaded;
      body.replaceChildren(el("p", { class: "error", text: error.message }));
    }
  });
  return details;
}

function hitNode(hit) {
  const url = safeUrl(hit.url);
  const title = hit.title || hit.path;
  return el("li", { class: "hit" },
    el("h3", {}, url ? el("a", { href: url, rel: "noopener noreferrer", text: title }) : title),
    el("p", { class: "meta" },
      hit.date ? el("time", { datetime: hit.date, text: hit.date }) : null,
      hit.source ? el("span", { class: "source", text: hit.source }) : null,
      hit.copies ? el("span", { class: "copies", text: `also in ${hit.copies} ${hit.copies === 1 ? "copy" : "copies"}` }) : null,
      el("span", { class: "path", text: hit.path })),
    el("p", { class: "snippet" }, snippetNodes(hit.snippet)),
    articleText(hit.id));
}

async function runSearch(offset = 0) {
  const q = searchQuery();
  const summary = $("search-summary");
  if (!q) {
    $("search-hits").replaceChildren();
    $("search-pages").replaceChildren();
    summary.textContent = "";
    return;
  }
  search.controller?.abort();
  search.controller = new AbortController();
  search.offset = offset;
  const collapse = $("search-collapse").checked;
  const params = new URLSearchParams({ q, limit: PAGE, offset, collapse });
  summary.textContent = "searching…";
  try {
    const answer = await api(`/search?${params}`, { signal: search.controller.signal });
    const shown = collapse && answer.collapse ? answer.collapse.stories : answer.total;
    const unit = collapse ? (shown === 1 ? "story" : "stories") : shown === 1 ? "hit" : "hits";
    summary.textContent = answer.hits.length
      ? `${shown.toLocaleString()} ${unit}; ${offset + 1}–${offset + answer.hits.length} shown`
      : `no ${collapse ? "story" : "hit"}`;
    $("search-hits").replaceChildren(...answer.hits.map(hitNode));
    const pages = $("search-pages");
    pages.replaceChildren();
    if (offset > 0) pages.append(el("button", { type: "button", text: "Previous page", onclick: () => runSearch(Math.max(0, offset - PAGE)) }));
    if (offset + answer.hits.length < shown) pages.append(el("button", { type: "button", text: "Next page", onclick: () => runSearch(offset + PAGE) }));
    if (location.hash.startsWith("#search")) history.replaceState(null, "", `#search?${new URLSearchParams({ q: $("search-q").value })}`);
  } catch (error) {
    if (error.name === "AbortError") return;
    summary.textContent = "";
    $("search-hits").replaceChildren();
    $("search-pages").replaceChildren();
    if (error.code !== "invalid_query") {
      showBanner(`Search failed: ${error.message}`);
      return;
    }
    // The typed text's own error is shown at its column; if it checks as valid, the refusal is
    // in a filter's clause, whose column is in the query the page built: said, not pointed at.
    const typed = $("search-q").value;
    const answer = await api("/queries/check", { method: "POST", body: { query: typed } }).catch(() => null);
    if (answer && !answer.valid) showProblem($("search-q-problem"), typed, answer.error, answer.lints ?? []);
    else showBanner(`Search refused: ${error.message} (check the date and source filters)`);
  }
}

function setUpSearch() {
  const check = checkAsTyped($("search-q"), $("search-q-problem"));
  $("search-form").addEventListener("submit", (event) => {
    event.preventDefault();
    check();
    runSearch(0);
  });
  $("search-collapse").addEventListener("change", () => runSearch(0));
}

// ---------------------------------------------------------------------------------------------
// Live alerts: the event stream, read with fetch (so that the token goes in a header, never in
// the URL), resumed with Last-Event-ID after a dropped connection.

const feed = { controller: null, lastId: null, pending: [], frame: 0, received: 0, unseen: 0 };

function alertNode(alert) {
  const url = safeUrl(alert.doc?.url);
  const title = alert.doc?.title || alert.doc?.path || alert.alert_id;
  return el("li", { class: alert.copy_of ? "alert copy" : "alert", "data-alert-id": alert.alert_id },
    el("p", { class: "meta" },
      el("span", { class: "query", text: alert.query?.name }),
      el("time", { datetime: alert.at, text: new Date(alert.at).toLocaleString() }),
      alert.doc?.source ? el("span", { class: "source", text: alert.doc.source }) : null,
      alert.backfill ? el("span", { class: "tag", text: "backfill" }) : null,
      alert.copy_of ? el("span", { class: "tag", text: "copy" }) : null),
    el("h3", {}, url ? el("a", { href: url, rel: "noopener noreferrer", text: title }) : title),
    el("p", { class: "snippet" }, snippetNodes(alert.matched?.snippet)),
    el("p", { class: "path", text: alert.doc?.path }),
    articleText(alert.doc?.id));
}

/** New alerts go on the page once a frame, newest first, however fast they come. */
function flushFeed() {
  feed.frame = 0;
  const list = $("alerts-feed");
  const batch = feed.pending.splice(0).slice(-FEED_KEPT);
  const fragment = document.createDocumentFragment();
  for (let i = batch.length - 1; i >= 0; i--) fragment.append(alertNode(batch[i]));
  list.prepend(fragment);
  while (list.childElementCount > FEED_KEPT) list.lastElementChild.remove();
  if (!location.hash.startsWith("#alerts")) {
    feed.unseen += batch.length;
    const badge = $("alerts-unseen");
    badge.textContent = String(feed.unseen);
    badge.hidden = false;
  }
  list.dataset.received = String(feed.received);
  $("alerts-state").textContent = `live: ${feed.received.toLocaleString()} alert${feed.received === 1 ? "" : "s"} since this page opened`;
}

function onEvent(block) {
  let event = "message";
  let id = null;
  const data = [];
  for (const line of block.split(/\r?\n/)) {
    if (!line || line.startsWith(":")) continue;
    const colon = line.indexOf(":");
    const field = colon < 0 ? line : line.slice(0, colon);
    const value = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
    if (field === "event") event = value;
    else if (field === "id") id = value;
    else if (field === "data") data.push(value);
  }
  if (id !== null) feed.lastId = id;
  if (event !== "alert" || !data.length) return;
  try {
    feed.pending.push(JSON.parse(data.join("\n")));
    feed.received++;
    // A hidden tab runs no animation frame: only what the page would keep is kept.
    if (feed.pending.length > 2 * FEED_KEPT) feed.pending.splice(0, feed.pending.length - FEED_KEPT);
  } catch {
    return;
  }
  if (!feed.frame) feed.frame = requestAnimationFrame(flushFeed);
}

async function follow() {
  feed.controller?.abort();
  const controller = new AbortController();
  feed.controller = controller;
  const state = $("alerts-state");
  const query = $("alerts-query").value;
  let delay = 500;
  while (!controller.signal.aborted) {
    try {
      const sentWith = sessionStorage.getItem(TOKEN_KEY);
      const h = headers({ Accept: "text/event-stream" });
      if (feed.lastId !== null) h["Last-Event-ID"] = feed.lastId;
      const path = query ? `/alerts/stream?${new URLSearchParams({ query })}` : "/alerts/stream";
      const response = await fetch(path, { headers: h, signal: controller.signal, cache: "no-store" });
      if (response.status === 401) {
        await tokenRefused(sentWith);
        continue;
      }
      if (!response.ok) throw new Error(`the stream answered ${response.status}`);
      state.textContent = "live: waiting for alerts";
      state.dataset.state = "live";
      delay = 500;
      const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
      let buffer = "";
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buffer += value;
        let end;
        while ((end = buffer.search(/\r?\n\r?\n/)) >= 0) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end).replace(/^\r?\n\r?\n/, "");
          onEvent(block);
        }
      }
      throw new Error("the stream ended");
    } catch (error) {
      if (controller.signal.aborted) return;
      state.dataset.state = "reconnecting";
      state.textContent = `connection lost (${error.message}); reconnecting in ${Math.round(delay / 1000) || 1} s`;
      await new Promise((resolve) => setTimeout(resolve, delay));
      delay = Math.min(delay * 2, 15000);
    }
  }
}

/** Another filter is another stream: it starts at the next alert, on an empty list. */
function refollow() {
  feed.lastId = null;
  feed.pending.length = 0;
  $("alerts-feed").replaceChildren();
  follow();
}

function setUpAlerts() {
  $("alerts-query").addEventListener("change", refollow);
  follow();
}

// ---------------------------------------------------------------------------------------------
// Saved queries.

function webhooksOf(text) {
  const names = text.split(",").map((name) => name.trim()).filter(Boolean);
  return names.length ? names : undefined;
}

async function loadQueries() {
  const queries = await api("/queries");
  const body = $("queries-table").tBodies[0];
  body.replaceChildren(...queries.map((query) => {
    const invalid = query.status !== "ok" && query.status !== "active";
    return el("tr", { "data-query": query.name, class: invalid ? "invalid" : null },
      el("th", { scope: "row", text: query.name }),
      el("td", {}, el("code", { text: query.query }),
        query.error ? el("p", { class: "error", text: `column ${query.error.column}: ${query.error.message}` }) : null,
        ...(query.lints ?? []).map((lint) => el("p", { class: "lint", text: `column ${lint.column}: ${lint.message}` }))),
      el("td", { text: query.status }),
      el("td", { text: query.webhooks?.join(", ") ?? "every one" }),
      el("td", { class: "actions" },
        el("button", { type: "button", class: "quiet", text: "Edit", "aria-label": `Edit ${query.name}`, onclick: () => editQuery(query) }),
        el("button", { type: "button", class: "danger", text: "Delete", "aria-label": `Delete ${query.name}`, onclick: () => deleteQuery(query.name) })));
  }));
  // The live feed's filter lists them too.
  const select = $("alerts-query");
  const chosen = select.value;
  select.replaceChildren(el("option", { value: "", text: "every query" }), ...queries.map((q) => el("option", { value: q.name, text: q.name })));
  select.value = queries.some((q) => q.name === chosen) ? chosen : "";
  // The chosen query was deleted: the stream follows every query now, as the select says.
  if (select.value !== chosen) refollow();
  return queries;
}

function editQuery(query) {
  $("query-name").value = query.name;
  $("query-text").value = query.query;
  $("query-webhooks").value = query.webhooks?.join(", ") ?? "";
  $("query-result").replaceChildren();
  $("query-text").dispatchEvent(new Event("input"));
  $("query-name").focus();
}

async function putQuery(mode) {
  const name = $("query-name").value.trim();
  const text = $("query-text").value;
  const result = $("query-result");
  if (!name || !text.trim()) {
    result.replaceChildren(el("p", { class: "error", text: "Give the query a name and a text." }));
    return;
  }
  const params = mode === "dry_run" ? "?dry_run=true" : mode === "backfill" ? "?backfill=true" : "";
  result.replaceChildren(el("p", { text: mode === "dry_run" ? "counting…" : "saving…" }));
  try {
    const answer = await api(`/queries/${encodeURIComponent(name)}${params}`, {
      method: "PUT",
      body: { query: text, webhooks: webhooksOf($("query-webhooks").value) },
    });
    if (mode === "dry_run") {
      result.replaceChildren(
        el("p", { class: "count", text: `${answer.total.toLocaleString()} indexed article${answer.total === 1 ? "" : "s"} match; nothing saved` }),
        el("ol", { class: "hits compact" }, answer.hits.map(hitNode)));
    } else {
      const backfill = answer.backfill ? `; backfill: ${answer.backfill.matched} matched, ${answer.backfill.alerts} alert${answer.backfill.alerts === 1 ? "" : "s"} raised` : "";
      result.replaceChildren(el("p", { class: "saved", text: `${answer.created ? "Added" : "Saved"} '${answer.query.name}' in ${answer.query.file}${backfill}` }));
      await loadQueries();
    }
  } catch (error) {
    if (error.code === "invalid_query") showProblem($("query-text-problem"), text, { column: error.column ?? 1, message: error.message });
    result.replaceChildren(el("p", { class: "error", text: error.message }));
  }
}

async function deleteQuery(name) {
  if (!confirm(`Delete the saved query '${name}'?`)) return;
  try {
    await api(`/queries/${encodeURIComponent(name)}`, { method: "DELETE" });
    $("query-result").replaceChildren(el("p", { class: "saved", text: `Deleted '${name}'` }));
    await loadQueries();
  } catch (error) {
    showBanner(`Cannot delete '${name}': ${error.message}`);
  }
}

function setUpQueries() {
  checkAsTyped($("query-text"), $("query-text-problem"));
  $("query-form").addEventListener("submit", (event) => {
    event.preventDefault();
    putQuery("save");
  });
  $("query-dry-run").addEventListener("click", () => putQuery("dry_run"));
  $("query-save-backfill").addEventListener("click", () => putQuery("backfill"));
  $("query-clear").addEventListener("click", () => {
    $("query-form").reset();
    $("query-result").replaceChildren();
    $("query-text-problem").replaceChildren();
  });
}

// ---------------------------------------------------------------------------------------------
// Status, with two small charts of rates sampled from /metrics while the page is open.

const samples = { alerts: [], files: [], timer: 0 };
const SAMPLE_MS = 2000;
const SAMPLES_KEPT = 300; // ten minutes

/** The sum of a metric's samples (every label set) in Prometheus' text format. */
function metricSum(text, name) {
  let sum = 0;
  for (const line of text.split("\n")) {
    if (line.startsWith(name + " ") || line.startsWith(name + "{")) sum += Number(line.slice(line.lastIndexOf(" ") + 1)) || 0;
  }
  return sum;
}

async function sampleMetrics() {
  try {
    const text = await api("/metrics", { raw: true });
    const now = Date.now();
    samples.alerts.push([now, metricSum(text, "lookout_alerts_total")]);
    samples.files.push([now, metricSum(text, "lookout_ingest_seconds_count")]);
    for (const series of [samples.alerts, samples.files]) if (series.length > SAMPLES_KEPT) series.shift();
    drawRate($("chart-alerts"), samples.alerts, 3600, "alerts per hour");
    drawRate($("chart-ingest"), samples.files, 60, "files per minute");
  } catch {
    // The next sample tries again.
  }
}

/** A counter's rate per `per` seconds between samples, as a small SVG line with its last value. */
function drawRate(box, series, per, unit) {
  const rates = [];
  for (let i = 1; i < series.length; i++) {
    const seconds = (series[i][0] - series[i - 1][0]) / 1000;
    rates.push(seconds > 0 ? Math.max(0, (series[i][1] - series[i - 1][1]) / seconds) * per : 0);
  }
  const svgNs = "http://www.w3.org/2000/svg";
  const width = 300;
  const height = 60;
  const svg = document.createElementNS(svgNs, "svg");
  svg.setAttribute("viewBox", `0 0 ${width} ${height}`);
  svg.setAttribute("preserveAspectRatio", "none");
  svg.setAttribute("role", "img");
  const last = rates.length ? Math.round(rates[rates.length - 1]) : null;
  const label = last === null ? `${unit}: measuring` : `${unit}: ${last.toLocaleString()} now`;
  svg.setAttribute("aria-label", label);
  if (rates.length > 1) {
    const top = Math.max(...rates, 1);
    const points = rates.map((rate, i) => `${(i / (rates.length - 1)) * width},${height - 2 - (rate / top) * (height - 4)}`);
    const line = document.createElementNS(svgNs, "polyline");
    line.setAttribute("points", points.join(" "));
    svg.append(line);
  }
  box.replaceChildren(svg, el("p", { class: "now", text: label }));
}

function bytes(n) {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) {
    n /= 1024;
    i++;
  }
  return `${i ? n.toFixed(1) : n} ${units[i]}`;
}

async function loadStatus() {
  const status = await api("/status");
  const numbers = [
    ["Documents", status.documents.toLocaleString()],
    ["Index", bytes(status.index_bytes)],
    ["Files processed", status.files.toLocaleString()],
    ["Alerts", status.alerts.toLocaleString()],
    ["Saved queries", `${status.queries.active} active, ${status.queries.invalid} invalid`],
    ["Queues", `${status.queues.ready_files} files ready, ${status.queues.uncommitted} uncommitted`],
    ["Last commit", status.last_commit ? new Date(status.last_commit).toLocaleString() : "none yet"],
    ["Running since", status.started_at ? new Date(status.started_at).toLocaleString() : "-"],
  ];
  $("status-numbers").replaceChildren(...numbers.map(([name, value]) => el("div", {}, el("dt", { text: name }), el("dd", { text: value }))));
  $("status-destinations").tBodies[0].replaceChildren(...(status.webhooks.length
    ? status.webhooks.map((hook) => el("tr", { class: `state-${hook.state}` },
      el("th", { scope: "row", text: hook.name }),
      el("td", {}, hook.state, hook.problem || hook.disabled_reason ? el("p", { class: "error", text: hook.problem ?? hook.disabled_reason }) : null),
      el("td", { text: hook.delivered }),
      el("td", { text: hook.failed_attempts }),
      el("td", { text: hook.dead_lettered }),
      el("td", { text: bytes(hook.backlog_bytes) })))
    : [el("tr", {}, el("td", { colspan: 6, text: "No destination is configured." }))]));
  $("status-quarantine").replaceChildren(...(status.quarantined.length
    ? status.quarantined.map((q) => el("li", {}, el("code", { text: q.path }), `: ${q.reason} (${q.attempts} attempt${q.attempts === 1 ? "" : "s"}, ${q.at})`))
    : [el("li", { text: "None." })]));
}

// ---------------------------------------------------------------------------------------------
// Views.

const VIEWS = ["search", "alerts", "queries", "status"];

async function show() {
  const [name, rest] = location.hash.slice(1).split("?");
  const view = VIEWS.includes(name) ? name : "search";
  for (const other of VIEWS) {
    $(`view-${other}`).hidden = other !== view;
    const link = document.querySelector(`a[data-view="${other}"]`);
    if (other === view) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  document.title = `lookout: ${document.querySelector(`a[data-view="${view}"]`).firstChild.textContent.trim()}`;
  showBanner(null);
  clearInterval(samples.timer);
  try {
    if (view === "search") {
      const q = new URLSearchParams(rest ?? "").get("q");
      if (q && q !== $("search-q").value) {
        $("search-q").value = q;
        runSearch(0);
      }
    } else if (view === "alerts") {
      feed.unseen = 0;
      $("alerts-unseen").hidden = true;
    } else if (view === "queries") {
      await loadQueries();
    } else if (view === "status") {
      await loadStatus();
      if (!location.hash.startsWith("#status")) return;
      clearInterval(samples.timer);
      sampleMetrics();
      samples.timer = setInterval(() => {
        sampleMetrics();
        loadStatus().catch(() => {});
      }, SAMPLE_MS);
    }
  } catch (error) {
    showBanner(`Cannot load this view: ${error.message}`);
  }
}

async function start() {
  // Without the token nothing works: Escape does not dismiss its dialog.
  $("token-dialog").addEventListener("cancel", (event) => event.preventDefault());
  // Chrome lets Escape close it anyway before the page had a user action: it opens again.
  $("token-dialog").addEventListener("close", () => {
    if (tokenAsked) $("token-dialog").showModal();
  });
  setUpSearch();
  setUpQueries();
  setUpAlerts();
  window.addEventListener("hashchange", show);
  // A page left (or kept in the back-forward cache) lets go of its stream: the browser's few
  // connections per host are the next page's.
  window.addEventListener("pagehide", () => feed.controller?.abort());
  window.addEventListener("pageshow", (event) => {
    if (event.persisted) follow();
  });
  $("search-q").focus();
  // The first view, and the live feed's query filter; then the page says it is ready (the
  // browser test times the first view to this mark).
  await Promise.allSettled([show(), loadQueries()]);
  performance.mark("lookout-ready");
  document.documentElement.dataset.ready = "true";
}

start();
