// TMDB movie analytics: the page's behaviour. Plain JavaScript, no framework, no build step.
"use strict";

(function () {
  const KEY_STORAGE = "tmdb.apiKey";
  const REQUEST_TIMEOUT_MS = 120000;

  // What each error code of the API ({error: {code, message}}) means to a reader.
  const ERROR_TITLES = {
    unauthorized: "An API key is needed. Enter a valid key in “API key” at the top of the page.",
    invalid_input: "Some input was not accepted.",
    unsafe_sql: "The question could not be turned into a safe, read-only query. Try rephrasing it.",
    query_failed: "The query for this question failed. Try rephrasing it.",
    llm_unavailable: "The language model that answers questions is unavailable right now.",
    unanswerable: "This question could not be mapped to the metrics; see what was understood and what to try.",
    model_unavailable: "The prediction model is not available (has it been trained?).",
    query_timeout: "The query took too long and was stopped. Try a narrower question.",
    rate_limited: "Too many questions in a short time. Wait a little and try again.",
    database_unavailable: "The movie warehouse is unavailable right now. Try again later.",
    docs_unavailable: "The data documentation the questions rely on is missing (run `tmdb transform`).",
    payload_too_large: "The request is too large.",
    no_chart: "This result cannot be drawn as a chart.",
    not_found: "Not found.",
    method_not_allowed: "This action is not supported.",
    internal_error: "Something went wrong on the server.",
    network: "Could not reach the API. Check your connection and that the server is running.",
    timeout: "The API did not answer in time.",
    http_error: "The API answered with an unexpected error.",
  };

  const $ = (id) => document.getElementById(id);

  class ApiFailure extends Error {
    constructor(code, message, status, details) {
      super(message);
      this.code = code;
      this.status = status;
      this.details = details || {}; // the whole error object: a refusal's reading, suggestions
    }
  }

  // ---- API key -------------------------------------------------------------------------------
  function storedKey() {
    try {
      return window.localStorage.getItem(KEY_STORAGE) || "";
    } catch (e) {
      return "";
    }
  }

  function storeKey(value) {
    try {
      if (value) window.localStorage.setItem(KEY_STORAGE, value);
      else window.localStorage.removeItem(KEY_STORAGE);
    } catch (e) {
      /* storage disabled: the key still works for this page */
    }
  }

  function showKeyStatus() {
    $("api-key-status").textContent = $("api-key").value.trim()
      ? "Key saved in this browser; sent as X-API-Key."
      : "No key: sent without X-API-Key.";
  }

  function setupApiKey() {
    const input = $("api-key");
    input.value = storedKey();
    showKeyStatus();
    input.addEventListener("input", () => {
      storeKey(input.value.trim());
      showKeyStatus();
    });
    $("api-key-clear").addEventListener("click", () => {
      input.value = "";
      storeKey("");
      showKeyStatus();
      input.focus();
    });
    $("api-key-form").addEventListener("submit", (event) => event.preventDefault());
  }

  // ---- HTTP ----------------------------------------------------------------------------------
  async function call(method, path, body) {
    const headers = { Accept: "application/json" };
    const key = $("api-key").value.trim();
    if (key) headers["X-API-Key"] = key;
    if (body !== undefined) headers["Content-Type"] = "application/json";
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), REQUEST_TIMEOUT_MS);
    let response;
    try {
      response = await fetch(path, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: controller.signal,
      });
    } catch (e) {
      if (e && e.name === "AbortError") {
        throw new ApiFailure("timeout", `no answer after ${REQUEST_TIMEOUT_MS / 1000} s`, 0);
      }
      throw new ApiFailure("network", String((e && e.message) || e), 0);
    } finally {
      clearTimeout(timer);
    }
    let data = null;
    try {
      data = await response.json();
    } catch (e) {
      data = null;
    }
    if (!response.ok) {
      const error = data && data.error;
      if (error && error.code) {
        throw new ApiFailure(error.code, error.message || "", response.status, error);
      }
      const code = response.status === 413 ? "payload_too_large" : "http_error";
      throw new ApiFailure(code, `HTTP ${response.status} ${response.statusText}`, response.status);
    }
    if (data === null) throw new ApiFailure("http_error", "the answer was not JSON", response.status);
    return data;
  }

  function showError(box, failure) {
    const code = failure.code || "http_error";
    box.replaceChildren();
    const title = document.createElement("strong");
    title.textContent = ERROR_TITLES[code] || ERROR_TITLES.http_error;
    box.append(title);
    if (failure.message) {
      const detail = document.createElement("span");
      detail.className = "error-message";
      detail.textContent = failure.message;
      box.append(detail, " ");
    }
    const tag = document.createElement("code");
    tag.className = "error-code";
    tag.textContent = `(${code}${failure.status ? `, HTTP ${failure.status}` : ""})`;
    box.append(tag);
    box.dataset.code = code;
    box.hidden = false;
  }

  function clearError(box) {
    box.hidden = true;
    box.replaceChildren();
    delete box.dataset.code;
  }

  function asFailure(e) {
    return e instanceof ApiFailure ? e : new ApiFailure("http_error", String(e), 0);
  }

  // ---- Formatting ----------------------------------------------------------------------------
  const plainInteger = (column) => /(^|_)(year|id)$/i.test(column);
  const MIDNIGHT = /^(\d{4}-\d{2}-\d{2})(?:[T ]00:00:00(?:\.0+)?(?:Z|[+-]00:?00)?)?$/;

  function formatCell(value, column) {
    if (value === null || value === undefined) return "—";
    if (typeof value === "number") {
      if (Number.isInteger(value)) {
        return plainInteger(column) ? String(value) : value.toLocaleString("en-US");
      }
      return value.toLocaleString("en-US", { maximumSignificantDigits: 4 });
    }
    if (typeof value === "object") return JSON.stringify(value);
    const midnight = typeof value === "string" && MIDNIGHT.exec(value);
    if (midnight) {
      // A time dimension at a grain (metric_time__year): show the period, not a timestamp.
      const grain = /__(year|quarter|month)$/i.exec(column);
      if (grain && grain[1].toLowerCase() === "year") return midnight[1].slice(0, 4);
      if (grain && grain[1].toLowerCase() === "month") return midnight[1].slice(0, 7);
      return midnight[1];
    }
    return String(value);
  }

  function percent(p) {
    return `${(p * 100).toFixed(1)}%`;
  }

  function signedPoints(effect) {
    const points = effect * 100;
    const sign = points > 0 ? "+" : points < 0 ? "−" : "±";
    return `${sign}${Math.abs(points).toFixed(1)} percentage points`;
  }

  // ---- Ask -----------------------------------------------------------------------------------
  function renderTable(columns, rows, table = $("ask-table")) {
    const headRow = document.createElement("tr");
    columns.forEach((column, i) => {
      const th = document.createElement("th");
      th.scope = "col";
      th.textContent = column;
      const first = rows.find((row) => row[i] !== null && row[i] !== undefined);
      if (first && typeof first[i] === "number") th.className = "num";
      headRow.append(th);
    });
    table.tHead.replaceChildren(headRow);
    const body = table.tBodies[0];
    body.replaceChildren();
    for (const row of rows) {
      const tr = document.createElement("tr");
      row.forEach((value, i) => {
        const td = document.createElement("td");
        td.textContent = formatCell(value, columns[i]);
        td.dataset.value = JSON.stringify(value === undefined ? null : value);
        if (typeof value === "number") td.className = "num";
        if (value === null) td.className = "null";
        tr.append(td);
      });
      body.append(tr);
    }
    if (rows.length === 0) {
      const tr = document.createElement("tr");
      const td = document.createElement("td");
      td.colSpan = Math.max(1, columns.length);
      td.textContent = "No rows.";
      tr.append(td);
      body.append(tr);
    }
  }

  function renderAnswer(data) {
    $("ask-answer").textContent = data.answer;
    $("ask-sql").textContent = data.sql;
    $("ask-count").textContent = `(${data.row_count} row${data.row_count === 1 ? "" : "s"})`;
    renderTable(data.columns, data.rows);
    const truncated = $("ask-truncated");
    truncated.hidden = !data.truncated;
    truncated.textContent = data.truncated
      ? `Truncated: only the first ${data.row_count} rows are shown; the query had more.`
      : "";
    const figure = $("ask-figure");
    const img = $("ask-chart");
    const vega = $("ask-vega");
    vega.replaceChildren();
    vega.hidden = true;
    img.hidden = false;
    if (data.chart && data.chart.vega_lite && window.vegaEmbed) {
      img.removeAttribute("src");
      img.hidden = true;
      vega.hidden = false;
      $("ask-chart-caption").textContent = "";
      figure.hidden = false;
      drawChart(vega, data.chart.vega_lite, data.chart.title);
    } else if (data.chart && data.chart.image_png_base64) {
      img.src = `data:image/png;base64,${data.chart.image_png_base64}`;
      const what = [data.chart.type, "chart", data.chart.y ? `of ${data.chart.y}` : "",
        data.chart.x ? `by ${data.chart.x}` : ""].filter(Boolean).join(" ");
      img.alt = `${data.chart.title || "Chart"} (${what})`;
      $("ask-chart-caption").textContent = data.chart.title || "";
      figure.hidden = false;
    } else {
      img.removeAttribute("src");
      img.alt = "";
      figure.hidden = true;
    }
    const tries = data.attempts === 1 ? "1 attempt" : `${data.attempts} attempts`;
    if (data.route === "semantic" && data.metric_query) {
      const labels = data.metric_query.metrics.map((name) => metricLabels.get(name) || name);
      const noun = labels.length === 1 ? "metric" : "metrics";
      $("ask-meta").textContent =
        `Answered from the ${noun} ${labels.join(", ")}: a governed metric query compiled by ` +
        `MetricFlow, written by ${data.engine} (${tries}).`;
    } else {
      $("ask-meta").textContent =
        `SQL written from the dbt docs by ${data.engine || data.model} (${tries}).`;
    }
    const explore = data.route === "semantic" && data.metric_query;
    $("ask-explore-row").hidden = !explore;
    if (explore) $("ask-explore").href = exploreLink(data.metric_query, data.chart && data.chart.type);
    showChips($("ask-suggestions"), data.suggestions || []);
    $("ask-result").hidden = false;
  }

  // Question chips (Try, Next, Ask instead): each asks its question afresh.
  function showChips(box, questions) {
    for (const old of box.querySelectorAll("button.example")) old.remove();
    for (const question of questions) {
      const button = document.createElement("button");
      button.type = "button";
      button.className = "example";
      button.textContent = question;
      button.addEventListener("click", () => {
        $("question").value = question;
        ask(question);
      });
      box.append(button);
    }
    box.hidden = questions.length === 0;
  }

  // ---- Charts: Vega-Lite specs built and validated by the server, drawn by vega-embed ------
  // `ast: true` evaluates expressions without eval (the page's CSP forbids it); the default
  // styles are in app.css, not injected (style-src 'self').
  const EMBED_OPTIONS = {
    actions: false,
    ast: true,
    renderer: "svg",
    defaultStyle: false,
    tooltip: { disableDefaultStyle: true },
  };

  function drawChart(element, spec, label) {
    element.replaceChildren();
    delete element.dataset.drawn;
    return window
      .vegaEmbed(element, spec, EMBED_OPTIONS)
      .then((result) => {
        element.setAttribute("aria-label", label || spec.title || "Chart"); // embed sets its own
        element.dataset.drawn = "true";
        return result;
      })
      .catch((e) => {
        element.textContent = `The chart could not be drawn: ${e && e.message ? e.message : e}`;
      });
  }

  // The conversation the follow-up box continues (null: the next question starts one).
  let conversationId = null;

  function addTurn(question, answer) {
    const thread = $("thread");
    const item = document.createElement("li");
    const asked = document.createElement("p");
    asked.className = "turn-question";
    asked.textContent = question;
    const said = document.createElement("p");
    said.className = "turn-answer";
    said.textContent = answer;
    item.append(asked, said);
    thread.append(item);
    thread.hidden = false;
  }

  function newConversation() {
    conversationId = null;
    $("thread").replaceChildren();
    $("thread").hidden = true;
    $("followup-form").hidden = true;
    $("ask-result").hidden = true;
  }

  async function ask(question, followUp = false) {
    const error = $("ask-error");
    const status = $("ask-status");
    const button = followUp ? $("followup-submit") : $("ask-submit");
    clearError(error);
    question = question.trim();
    if (question.length < 3) {
      showError(error, new ApiFailure("invalid_input", "question: type at least 3 characters", 0));
      (followUp ? $("followup") : $("question")).focus();
      return;
    }
    if (!followUp) newConversation();
    showRefusal({});
    button.disabled = true;
    $("ask-section").setAttribute("aria-busy", "true");
    status.textContent = "Thinking: writing the query, checking it and running it…";
    try {
      const body = { question, chart: true };
      if (followUp && conversationId) body.conversation_id = conversationId;
      const data = await call("POST", "/ask", body);
      conversationId = data.conversation_id || null;
      renderAnswer(data);
      addTurn(question, data.answer);
      $("followup-form").hidden = !conversationId;
      $("followup").value = "";
      status.textContent = "";
    } catch (e) {
      if (!followUp) $("ask-result").hidden = true;
      status.textContent = "";
      const failure = asFailure(e);
      showError(error, failure);
      showRefusal(failure.details);
    } finally {
      button.disabled = false;
      $("ask-section").removeAttribute("aria-busy");
    }
  }

  // A refusal: checked questions to ask instead, and Explore with what was understood.
  function showRefusal(details) {
    const suggestions = details.suggestions || [];
    showChips($("refusal-suggestions"), suggestions);
    const query = details.metric_query;
    $("refusal-explore").parentElement.hidden = !query;
    if (query) $("refusal-explore").href = exploreLink(query);
    $("refusal-next").hidden = !(suggestions.length || query);
  }

  async function loadExamples() {
    try {
      const data = await call("GET", "/web/suggestions");
      showChips($("examples"), data.suggestions || []);
      $("examples").hidden = false;
    } catch (e) {
      $("examples").hidden = true;
    }
  }

  function setupAsk() {
    $("followup-form").addEventListener("submit", (event) => {
      event.preventDefault();
      ask($("followup").value, true);
    });
    $("new-conversation").addEventListener("click", () => {
      newConversation();
      $("question").focus();
    });
    const form = $("ask-form");
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      ask($("question").value);
    });
  }

  // ---- Metrics panel: GET /metrics -----------------------------------------------------------
  // Labels by name, so an answer names the governed metric as people read it ("Success rate").
  const metricLabels = new Map();

  function renderMetrics(catalog) {
    const dimensionLabels = new Map(catalog.dimensions.map((d) => [d.name, d.label]));
    const list = $("metrics-list");
    list.replaceChildren();
    for (const metric of catalog.metrics) {
      metricLabels.set(metric.name, metric.label);
      const item = document.createElement("li");
      item.dataset.metric = metric.name;
      const button = document.createElement("button");
      button.type = "button";
      button.className = "metric-ask secondary";
      button.textContent = metric.label;
      button.title = `Ask: ${metric.label} by year`;
      button.addEventListener("click", () => {
        $("question").value = `${metric.label} by year`;
        $("ask-section").scrollIntoView({ block: "start" });
        ask($("question").value);
      });
      const description = document.createElement("p");
      description.className = "metric-description";
      description.textContent = metric.description;
      const dimensions = document.createElement("p");
      dimensions.className = "hint metric-dimensions";
      const names = metric.dimensions.map((d) => dimensionLabels.get(d) || d);
      dimensions.textContent = `By: ${names.join(", ")}`;
      item.append(button, description, dimensions);
      list.append(item);
    }
  }

  async function loadMetrics() {
    const status = $("metrics-status");
    try {
      catalog = await call("GET", "/metrics");
      renderMetrics(catalog);
      status.textContent = "";
      if (exploring) startExplore();
    } catch (e) {
      status.textContent = `The metrics are unavailable: ${asFailure(e).message}`;
    }
  }

  // ---- Explore: /explore?metrics=…&group_by=…&where=…&order_by=…&limit=…&chart=… -----------
  // The whole state is in the query string (the names of POST /metrics/query, lists as
  // repeated parameters), so a link reproduces the view. It runs POST /metrics/query and asks
  // the server for the chart's Vega-Lite spec (POST /web/vega-lite), then fills in the rows.
  const CHARTS = ["bar", "line", "scatter", "table"];
  // Time at each grain people ask for: MetricFlow's grains of metric_time, and the calendar
  // dimensions of the semantic layer (when the manifest has them).
  const TIME_GROUPS = [
    ["metric_time__year", "Year"],
    ["metric_time__quarter", "Quarter"],
    ["metric_time__month", "Month"],
    ["movie__release_month", "Month of year"],
    ["movie__release_quarter", "Quarter of year"],
    ["movie__release_decade", "Decade"],
  ];
  const RELEASE_YEAR = "release year"; // a filter on metric_time by year
  const DAY = "{{ TimeDimension('metric_time', 'day') }}";
  const OPERATORS = [
    ["=", "is"],
    ["!=", "is not"],
    ["in", "is one of"],
    [">=", "at least"],
    ["<=", "at most"],
    ["between", "between"],
  ];
  // Dimensions whose values the grounding index knows (typed ahead from GET /web/values).
  let catalog = null;

  function metricFamily(name) {
    if (/predict|scored|probability/.test(name)) return "Predictions";
    if (/success|labelled|roi/.test(name)) return "Success and return";
    if (/usd/.test(name)) return "Money";
    if (/rating|votes|popularity|observed/.test(name)) return "Audience";
    if (/actor|cast|crew|director/.test(name)) return "Cast and crew";
    return "Catalogue";
  }

  function exploreLink(query, chart) {
    const params = new URLSearchParams();
    for (const name of query.metrics || []) params.append("metrics", name);
    for (const name of query.group_by || []) params.append("group_by", name);
    for (const condition of query.where || []) params.append("where", condition);
    for (const name of query.order_by || []) params.append("order_by", name);
    if (query.limit) params.set("limit", String(query.limit));
    const time = (query.group_by || []).some((g) => /^metric_time__|release_(year|decade)/.test(g));
    params.set("chart", CHARTS.includes(chart) ? chart : time ? "line" : "bar");
    return `/explore?${params.toString()}`;
  }

  function stateFromUrl() {
    const params = new URLSearchParams(location.search);
    const limit = Number(params.get("limit"));
    return {
      metrics: params.getAll("metrics"),
      group_by: params.getAll("group_by"),
      where: params.getAll("where"),
      order_by: params.getAll("order_by"),
      limit: Number.isInteger(limit) && limit > 0 ? limit : null,
      chart: CHARTS.includes(params.get("chart")) ? params.get("chart") : "bar",
    };
  }

  function option(value, text, title) {
    const o = document.createElement("option");
    o.value = value;
    o.textContent = text;
    if (title) o.title = title;
    return o;
  }

  function selectedMetrics() {
    return [...$("x-metrics").selectedOptions].map((o) => o.value);
  }

  // What every selected metric can be grouped and filtered by.
  function reachable() {
    const chosen = selectedMetrics();
    const byName = new Map(catalog.metrics.map((m) => [m.name, m]));
    let names = null;
    for (const name of chosen) {
      const dims = new Set((byName.get(name) || { dimensions: [] }).dimensions);
      names = names === null ? dims : new Set([...names].filter((d) => dims.has(d)));
    }
    return names || new Set(catalog.dimensions.map((d) => d.name));
  }

  function groupOptions(select, keep) {
    const dims = reachable();
    select.replaceChildren(option("", "(nothing)"));
    const time = document.createElement("optgroup");
    time.label = "Time";
    for (const [name, label] of TIME_GROUPS) {
      const head = name.startsWith("metric_time__") ? "metric_time" : name;
      if (dims.has(head)) time.append(option(name, label));
    }
    select.append(time);
    const other = document.createElement("optgroup");
    other.label = "Dimensions";
    for (const d of catalog.dimensions) {
      const calendar = TIME_GROUPS.some(([name]) => name === d.name);
      if (dims.has(d.name) && d.type === "categorical" && !calendar) {
        other.append(option(d.name, d.label, d.description));
      }
    }
    select.append(other);
    select.value = [...select.options].some((o) => o.value === keep) ? keep : "";
  }

  function orderOptions(keep) {
    const select = $("x-order");
    select.replaceChildren(option("", "(natural order)"));
    const names = [...selectedMetrics(), $("x-group-1").value, $("x-group-2").value].filter(Boolean);
    for (const name of names) {
      const label = labelOf(name);
      select.append(option(`-${name}`, `${label}, highest first`));
      select.append(option(name, `${label}, lowest first`));
    }
    select.value = [...select.options].some((o) => o.value === keep) ? keep : "";
  }

  function labelOf(name) {
    const metric = catalog.metrics.find((m) => m.name === name);
    if (metric) return metric.label;
    const time = TIME_GROUPS.find(([n]) => n === name);
    if (time) return time[1];
    const dim = catalog.dimensions.find((d) => d.name === name);
    return dim ? dim.label : name;
  }

  function describeMetrics() {
    const list = $("x-metric-descriptions");
    list.replaceChildren();
    for (const name of selectedMetrics()) {
      const metric = catalog.metrics.find((m) => m.name === name);
      const item = document.createElement("li");
      const strong = document.createElement("strong");
      strong.textContent = `${metric.label}: `;
      item.append(strong, metric.description);
      list.append(item);
    }
  }

  function refreshChoices() {
    const g1 = $("x-group-1").value;
    const g2 = $("x-group-2").value;
    groupOptions($("x-group-1"), g1);
    groupOptions($("x-group-2"), g2);
    orderOptions($("x-order").value);
    describeMetrics();
  }

  // ---- Filters: dimension + operator + values → a MetricFlow where string, and back --------
  const quote = (v) => `'${String(v).replace(/'/g, "''")}'`;
  const isNumber = (v) => /^-?\d+(\.\d+)?$/.test(String(v).trim());
  const literal = (v) => (isNumber(v) ? String(v).trim() : quote(String(v).trim()));
  const splitValues = (text) => text.split(",").map((v) => v.trim()).filter(Boolean);

  function whereOf(filter) {
    if (filter.raw) return filter.raw;
    const values = splitValues(filter.values);
    if (!filter.dimension || !values.length) return null;
    if (filter.dimension === RELEASE_YEAR) {
      const [a, b] = values;
      if (filter.op === ">=") return `${DAY} >= '${a}-01-01'`;
      if (filter.op === "<=") return `${DAY} <= '${a}-12-31'`;
      if (filter.op === "between" && b) return `${DAY} between '${a}-01-01' and '${b}-12-31'`;
      if (filter.op === "=") return `${DAY} between '${a}-01-01' and '${a}-12-31'`;
      return null;
    }
    const ref = `{{ Dimension('${filter.dimension}') }}`;
    if (filter.op === "in") return `${ref} in (${values.map(literal).join(", ")})`;
    if (filter.op === "between") {
      return values.length === 2 ? `${ref} between ${literal(values[0])} and ${literal(values[1])}` : null;
    }
    return `${ref} ${filter.op} ${literal(values[0])}`;
  }

  const VALUE = "('(?:[^']|'')*'|-?\\d+(?:\\.\\d+)?)";
  const unquote = (v) => (v.startsWith("'") ? v.slice(1, -1).replace(/''/g, "'") : v);

  function filterOf(where) {
    let m = new RegExp(`^\\{\\{ TimeDimension\\('metric_time', 'day'\\) \\}\\} (>=|<=) '(\\d{4})-(01-01|12-31)'$`).exec(where);
    if (m) return { dimension: RELEASE_YEAR, op: m[1], values: m[2] };
    m = /^\{\{ TimeDimension\('metric_time', 'day'\) \}\} between '(\d{4})-01-01' and '(\d{4})-12-31'$/.exec(where);
    if (m) return m[1] === m[2]
      ? { dimension: RELEASE_YEAR, op: "=", values: m[1] }
      : { dimension: RELEASE_YEAR, op: "between", values: `${m[1]}, ${m[2]}` };
    m = new RegExp(`^\\{\\{ Dimension\\('([a-z0-9_]+)'\\) \\}\\} (=|!=|>=|<=) ${VALUE}$`).exec(where);
    if (m) return { dimension: m[1], op: m[2], values: unquote(m[3]) };
    m = new RegExp(`^\\{\\{ Dimension\\('([a-z0-9_]+)'\\) \\}\\} between ${VALUE} and ${VALUE}$`).exec(where);
    if (m) return { dimension: m[1], op: "between", values: `${unquote(m[2])}, ${unquote(m[3])}` };
    m = /^\{\{ Dimension\('([a-z0-9_]+)'\) \}\} in \((.*)\)$/.exec(where);
    if (m) {
      const parts = m[2].match(new RegExp(VALUE, "g")) || [];
      return { dimension: m[1], op: "in", values: parts.map(unquote).join(", ") };
    }
    return { raw: where };
  }

  function addFilter(filter) {
    const item = document.createElement("li");
    item.className = "filter";
    const n = $("x-filters").children.length + 1;
    if (filter.raw) {
      const input = document.createElement("input");
      input.className = "x-raw";
      input.value = filter.raw;
      input.setAttribute("aria-label", `Filter ${n} (MetricFlow condition)`);
      item.append(input);
    } else {
      const dimension = document.createElement("select");
      dimension.className = "x-dimension";
      dimension.setAttribute("aria-label", `Filter ${n}: dimension`);
      dimension.append(option("", "(dimension)"), option(RELEASE_YEAR, "Release year"));
      const dims = reachable();
      for (const d of catalog.dimensions) {
        if (d.type === "categorical" && dims.has(d.name)) dimension.append(option(d.name, d.label));
      }
      dimension.value = filter.dimension || "";
      const op = document.createElement("select");
      op.className = "x-op";
      op.setAttribute("aria-label", `Filter ${n}: operator`);
      for (const [value, text] of OPERATORS) op.append(option(value, text));
      op.value = filter.op || "=";
      const values = document.createElement("input");
      values.className = "x-values";
      values.value = filter.values || "";
      values.setAttribute("list", "x-values");
      values.setAttribute("aria-label", `Filter ${n}: values (comma separated)`);
      values.placeholder = "values, comma separated";
      values.addEventListener("input", () => typeAhead(dimension.value, values.value));
      values.addEventListener("focus", () => typeAhead(dimension.value, values.value));
      item.append(dimension, op, values);
    }
    const remove = document.createElement("button");
    remove.type = "button";
    remove.className = "secondary x-remove";
    remove.textContent = "Remove";
    remove.addEventListener("click", () => item.remove());
    item.append(remove);
    $("x-filters").append(item);
  }

  let typed = 0;
  async function typeAhead(dimension, text) {
    const ticket = ++typed;
    const list = $("x-values");
    if (!dimension || dimension === RELEASE_YEAR) return list.replaceChildren();
    const prefix = text.split(",").pop().trim();
    const params = new URLSearchParams({ dimension, prefix, limit: "10" });
    try {
      const data = await call("GET", `/web/values?${params}`);
      if (ticket !== typed) return;
      const done = splitValues(text).slice(0, -1);
      list.replaceChildren(...data.values.map((v) => option([...done, v].join(", "), v)));
    } catch (e) {
      list.replaceChildren();
    }
  }

  function filters() {
    return [...$("x-filters").children].map((item) => {
      const raw = item.querySelector(".x-raw");
      if (raw) return { raw: raw.value.trim() };
      return {
        dimension: item.querySelector(".x-dimension").value,
        op: item.querySelector(".x-op").value,
        values: item.querySelector(".x-values").value,
      };
    });
  }

  function formState() {
    const limit = Number($("x-limit").value);
    return {
      metrics: selectedMetrics(),
      group_by: [$("x-group-1").value, $("x-group-2").value].filter(Boolean),
      where: filters().map(whereOf).filter(Boolean),
      order_by: $("x-order").value ? [$("x-order").value] : [],
      limit: Number.isInteger(limit) && limit > 0 ? limit : null,
      chart: $("x-chart-type").value,
    };
  }

  function applyState(state) {
    for (const o of $("x-metrics").options) o.selected = state.metrics.includes(o.value);
    groupOptions($("x-group-1"), state.group_by[0] || "");
    groupOptions($("x-group-2"), state.group_by[1] || "");
    $("x-group-1").value = state.group_by[0] || "";
    $("x-group-2").value = state.group_by[1] || "";
    orderOptions(state.order_by[0] || "");
    $("x-limit").value = state.limit ? String(state.limit) : "";
    $("x-chart-type").value = state.chart;
    $("x-filters").replaceChildren();
    for (const where of state.where) addFilter(filterOf(where));
    describeMetrics();
  }

  function csvOf(columns, rows) {
    const cell = (v) => {
      if (v === null || v === undefined) return "";
      const text = typeof v === "object" ? JSON.stringify(v) : String(v);
      return /[",\n\r]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
    };
    return [columns, ...rows].map((row) => row.map(cell).join(",")).join("\r\n") + "\r\n";
  }

  async function runExplore(push) {
    const error = $("x-error");
    const status = $("x-status");
    clearError(error);
    const state = formState();
    if (!state.metrics.length) {
      showError(error, new ApiFailure("invalid_input", "metrics: choose at least one metric", 0));
      return;
    }
    const link = exploreLink(state, state.chart);
    if (push && `${location.pathname}${location.search}` !== link) history.pushState(null, "", link);
    const query = {
      metrics: state.metrics,
      group_by: state.group_by,
      where: state.where,
      order_by: state.order_by,
    };
    if (state.limit) query.limit = state.limit;
    $("x-run").disabled = true;
    status.textContent = "Running the metric query…";
    try {
      const data = await call("POST", "/metrics/query", query);
      renderTable(data.columns, data.rows, $("x-table"));
      $("x-count").textContent = `(${data.row_count} row${data.row_count === 1 ? "" : "s"})`;
      $("x-truncated").hidden = !data.truncated;
      $("x-truncated").textContent = data.truncated ? "Truncated: the query had more rows." : "";
      $("x-sql").textContent = data.sql;
      // A data: URL, so the download needs nothing the CSP does not already allow.
      $("x-csv").href = `data:text/csv;charset=utf-8,${encodeURIComponent(csvOf(data.columns, data.rows))}`;
      $("x-result").hidden = false;
      await exploreChart(state, query, data);
      status.textContent = "";
    } catch (e) {
      status.textContent = "";
      $("x-result").hidden = true;
      showError(error, asFailure(e));
    } finally {
      $("x-run").disabled = false;
    }
  }

  async function exploreChart(state, query, data) {
    const figure = $("x-figure");
    const element = $("x-chart");
    element.replaceChildren();
    delete element.dataset.drawn;
    figure.hidden = state.chart === "table" || !data.rows.length;
    if (figure.hidden) return;
    const title = `${state.metrics.map(labelOf).join(", ")}${state.group_by.length ? " by " : ""}${state.group_by.map(labelOf).join(" and ")}`;
    const reply = await call("POST", "/web/vega-lite", {
      query, chart: state.chart, columns: data.columns, title,
    });
    if (!reply.vega_lite) {
      figure.hidden = true;
      return;
    }
    const spec = reply.vega_lite;
    spec.data = {
      values: data.rows.map((row) => Object.fromEntries(data.columns.map((c, i) => [c, row[i]]))),
    };
    await drawChart(element, spec, title);
  }

  function setupExplore() {
    const form = $("explore-form");
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      runExplore(true);
    });
    $("x-metrics").addEventListener("change", refreshChoices);
    $("x-group-1").addEventListener("change", () => orderOptions($("x-order").value));
    $("x-group-2").addEventListener("change", () => orderOptions($("x-order").value));
    $("x-add-filter").addEventListener("click", () => addFilter({}));
    window.addEventListener("popstate", () => {
      if (location.pathname === "/explore") {
        applyState(stateFromUrl());
        runExplore(false);
      }
    });
  }

  function fillMetrics() {
    const select = $("x-metrics");
    select.replaceChildren();
    const groups = new Map();
    for (const metric of catalog.metrics) {
      const family = metricFamily(metric.name);
      if (!groups.has(family)) {
        const group = document.createElement("optgroup");
        group.label = family;
        groups.set(family, group);
      }
      groups.get(family).append(option(metric.name, metric.label, metric.description));
    }
    select.append(...groups.values());
  }

  function startExplore() {
    fillMetrics();
    const state = stateFromUrl();
    applyState(state);
    if (state.metrics.length) runExplore(false);
  }

  // ---- Predict -------------------------------------------------------------------------------
  function list(value) {
    return value.split(",").map((s) => s.trim()).filter(Boolean);
  }

  function number(value) {
    const n = Number(value);
    return value.trim() !== "" && Number.isFinite(n) ? n : value.trim();
  }

  function predictionBody() {
    const body = {};
    const text = (id) => $(id).value.trim();
    if (text("p-title")) body.title = text("p-title");
    if (text("p-budget")) body.budget_usd = number($("p-budget").value);
    if (text("p-release")) body.release_date = text("p-release");
    body.genres = list($("p-genres").value);
    if (text("p-runtime")) body.runtime_minutes = number($("p-runtime").value);
    if (text("p-language")) body.original_language = text("p-language").toLowerCase();
    if (text("p-certification")) body.us_certification = text("p-certification");
    if (text("p-director")) body.director = text("p-director");
    const cast = list($("p-cast").value);
    if (cast.length) body.top_cast = cast;
    return body;
  }

  function renderPrediction(data) {
    const p = data.success_probability;
    $("predict-probability").textContent = percent(p);
    const bar = $("predict-bar");
    bar.style.width = `${Math.max(0, Math.min(100, p * 100))}%`;
    bar.className = data.predicted_success ? "good" : "";
    $("predict-threshold").style.left = `${data.threshold * 100}%`;
    const verdict = $("predict-verdict");
    verdict.textContent = data.predicted_success
      ? "Predicted: a commercial success (revenue at least twice the budget)."
      : "Predicted: not a commercial success.";
    verdict.className = `verdict ${data.predicted_success ? "good" : "bad"}`;
    const body = $("predict-factors").tBodies[0];
    body.replaceChildren();
    for (const factor of data.top_factors) {
      const tr = document.createElement("tr");
      const name = document.createElement("td");
      name.textContent = factor.feature;
      const effect = document.createElement("td");
      effect.textContent = signedPoints(factor.effect);
      effect.className = factor.effect >= 0 ? "effect-up" : "effect-down";
      effect.dataset.value = String(factor.effect);
      tr.append(name, effect);
      body.append(tr);
    }
    $("predict-meta").textContent =
      `Model ${data.model_version}; decision threshold ${percent(data.threshold)}.`;
    $("predict-result").hidden = false;
  }

  function setupPredict() {
    const form = $("predict-form");
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const error = $("predict-error");
      const status = $("predict-status");
      const button = $("predict-submit");
      clearError(error);
      button.disabled = true;
      status.textContent = "Scoring…";
      try {
        renderPrediction(await call("POST", "/predict", predictionBody()));
        status.textContent = "";
      } catch (e) {
        $("predict-result").hidden = true;
        status.textContent = "";
        showError(error, asFailure(e));
      } finally {
        button.disabled = false;
      }
    });
  }

  // ---- Deployment facts: /web/config and /health ----------------------------------------------
  function notice(text, kind) {
    const p = document.createElement("p");
    p.className = "notice";
    p.dataset.kind = kind;
    p.textContent = text;
    $("notices").append(p);
  }

  async function loadConfig() {
    try {
      const config = await call("GET", "/web/config");
      if (config.synthetic_data) {
        notice("The data shown is synthetic (local TMDB server).", "synthetic");
      }
      if (config.llm === "builtin") {
        notice(
          "Questions are answered by the built-in engine, without a language model: it reads " +
            "questions about the governed metrics and says when it cannot answer one.",
          "llm",
        );
      } else if (config.llm === "none") {
        notice("Questions are unavailable: no language model is configured.", "llm");
      }
    } catch (e) {
      /* the notices are informative only */
    }
  }

  async function loadHealth() {
    const status = $("health-status");
    try {
      const health = await call("GET", "/health");
      const asOf = health.data_as_of;
      $("data-as-of").textContent = asOf && asOf.newest_record_at
        ? `Data as of ${asOf.newest_record_at.slice(0, 16).replace("T", " ")} UTC`
        : "";
      if (health.status === "starting") {
        // The value index is still being built; ask again shortly.
        status.textContent = "Service starting…";
        status.dataset.status = "starting";
        setTimeout(loadHealth, 1000);
        return;
      }
      if (health.status === "ok") {
        status.textContent = health.model_version
          ? `Service ok · model ${health.model_version}`
          : "Service ok · no model trained yet";
      } else {
        status.textContent = "Service degraded: the warehouse is unavailable.";
      }
      status.dataset.status = health.status;
    } catch (e) {
      status.textContent = "Service status unknown: the API did not answer.";
      status.dataset.status = "unknown";
    }
  }

  // The view: Explore at /explore, questions everywhere else.
  const exploring = location.pathname === "/explore";

  function showView() {
    $("explore-section").hidden = !exploring;
    for (const id of ["ask-section", "metrics-section", "predict-section"]) $(id).hidden = exploring;
    const current = exploring ? $("nav-explore") : $("nav-ask");
    current.setAttribute("aria-current", "page");
  }

  document.addEventListener("DOMContentLoaded", () => {
    showView();
    setupApiKey();
    setupAsk();
    setupExplore();
    setupPredict();
    loadExamples();
    loadMetrics();
    loadConfig();
    loadHealth();
  });
})();
