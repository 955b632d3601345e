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
    constructor(code, message, status) {
      super(message);
      this.code = code;
      this.status = status;
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
        throw new ApiFailure(error.code, error.message || "", response.status);
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
  function renderTable(columns, rows) {
    const table = $("ask-table");
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
    if (data.chart && data.chart.image_png_base64) {
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
    $("ask-result").hidden = false;
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
      showError(error, asFailure(e));
    } finally {
      button.disabled = false;
      $("ask-section").removeAttribute("aria-busy");
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
    for (const button of form.querySelectorAll("button.example")) {
      button.addEventListener("click", () => {
        $("question").value = button.textContent.trim();
        ask($("question").value);
      });
    }
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
      renderMetrics(await call("GET", "/metrics"));
      status.textContent = "";
    } catch (e) {
      status.textContent = `The metrics are unavailable: ${asFailure(e).message}`;
    }
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

  document.addEventListener("DOMContentLoaded", () => {
    setupApiKey();
    setupAsk();
    setupPredict();
    loadMetrics();
    loadConfig();
    loadHealth();
  });
})();
