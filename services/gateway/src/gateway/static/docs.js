// The partner docs page: renders /openapi.json and marks what the caller's credential may call.
"use strict";

const METHODS = ["get", "post", "put", "patch", "delete"];
const STORE = "careloop.docs.credential";

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (key === "class") node.className = value; else node.setAttribute(key, value);
  }
  for (const child of children) {
    if (child !== null && child !== undefined) node.append(child);
  }
  return node;
}

async function load() {
  const credential = sessionStorage.getItem(STORE) || "";
  const headers = credential ? { Authorization: `Bearer ${credential}` } : {};
  const response = await fetch("/openapi.json", { headers });
  if (!response.ok) {
    const problem = await response.json().catch(() => ({}));
    throw new Error(problem.detail || `the API description could not be loaded (${response.status})`);
  }
  return response.json();
}

function showCaller(doc) {
  const caller = doc.info["x-careloop-caller"];
  const line = document.getElementById("caller");
  if (!caller) {
    line.textContent = "Showing every operation. Enter a credential to see which ones it may call.";
    return;
  }
  const partner = caller.partner_id ? `, partner ${caller.partner_id}` : "";
  line.textContent = `Signed in as ${caller.subject} (${caller.kind}${partner}); scopes: ${caller.scopes.join(", ") || "none"}.`;
}

function badge(operation, known) {
  const scopes = operation["x-careloop-scopes"];
  if (!scopes) return el("span", { class: "badge open" }, "no credential needed");
  if (!known && operation["x-careloop-public"]) return el("span", { class: "badge open" }, "no login needed");
  if (!known) return el("span", { class: "badge open" }, scopes.join(" + ") || "any credential");
  return operation["x-careloop-allowed"]
    ? el("span", { class: "badge allowed" }, "you may call this")
    : el("span", { class: "badge denied" }, "not with this credential");
}

function schemaName(content) {
  const media = content && (content["application/json"] || Object.values(content)[0]);
  const schema = media && media.schema;
  if (!schema) return null;
  if (schema.$ref) return schema.$ref.split("/").pop();
  if (schema.items && schema.items.$ref) return `list of ${schema.items.$ref.split("/").pop()}`;
  return schema.type || "object";
}

function operationBody(doc, operation) {
  const body = el("div", { class: "body" });
  if (operation.description) body.append(el("p", {}, operation.description));
  const scopes = operation["x-careloop-scopes"];
  if (scopes && scopes.length) {
    const line = el("p", { class: "scopes" }, "Needs scope: ");
    scopes.forEach((scope) => line.append(el("code", {}, scope)));
    body.append(line);
  }
  const params = operation.parameters || [];
  if (params.length) {
    const list = el("ul");
    params.forEach((p) => list.append(el("li", {}, el("code", {}, p.name), ` (${p.in}${p.required ? ", required" : ""})`)));
    body.append(el("p", {}, "Parameters:"), list);
  }
  const request = operation.requestBody && schemaName(operation.requestBody.content);
  if (request) {
    body.append(el("p", {}, "Request body: ", el("code", {}, request)));
    const schema = doc.components.schemas[request];
    const example = schema && schema.examples && schema.examples[0];
    if (example) body.append(el("pre", {}, JSON.stringify(example, null, 2)));
  }
  const answers = el("ul");
  for (const [status, response] of Object.entries(operation.responses || {})) {
    const name = schemaName(response.content);
    answers.append(el("li", {}, el("code", {}, status), ` ${response.description || ""}`, name ? ` — ${name}` : ""));
  }
  body.append(el("p", {}, "Responses:"), answers);
  return body;
}

function render(doc) {
  const intro = document.getElementById("intro");
  intro.replaceChildren();
  // The description is Markdown with tables; show its paragraphs and tables plainly.
  for (const block of (doc.info.description || "").split("\n\n")) {
    if (block.trim().startsWith("|")) {
      const rows = block.trim().split("\n").filter((r) => !/^\|[-| ]+\|$/.test(r));
      const table = el("table");
      rows.forEach((row, i) => {
        const tr = el("tr");
        row.split("|").slice(1, -1).forEach((cell) => tr.append(el(i === 0 ? "th" : "td", {}, cell.trim().replaceAll("`", ""))));
        table.append(tr);
      });
      intro.append(table);
    } else {
      intro.append(el("p", {}, block.replaceAll("`", "")));
    }
  }
  const known = Boolean(doc.info["x-careloop-caller"]);
  const groups = new Map();
  for (const [path, item] of Object.entries(doc.paths)) {
    for (const method of METHODS) {
      const operation = item[method];
      if (!operation) continue;
      const tag = (operation.tags && operation.tags[0]) || "other";
      if (!groups.has(tag)) groups.set(tag, []);
      groups.get(tag).push([method, path, operation]);
    }
  }
  const toc = document.getElementById("toc");
  const target = document.getElementById("operations");
  toc.replaceChildren();
  target.replaceChildren();
  for (const [tag, operations] of [...groups.entries()].sort()) {
    toc.append(el("a", { href: `#tag-${tag}` }, tag));
    target.append(el("h2", { id: `tag-${tag}` }, tag));
    for (const [method, path, operation] of operations) {
      const summary = el("summary", {},
        el("span", { class: `method ${method}` }, method),
        el("span", { class: "path" }, path),
        el("span", { class: "summary" }, operation.summary || ""),
        badge(operation, known));
      target.append(el("details", {}, summary, operationBody(doc, operation)));
    }
  }
  const missing = doc.info["x-careloop-unavailable"];
  if (missing && missing.length) {
    target.prepend(el("p", { class: "error" }, `Not shown because they are not answering now: ${missing.join(", ")}.`));
  }
}

async function refresh() {
  try {
    const doc = await load();
    showCaller(doc);
    render(doc);
  } catch (error) {
    document.getElementById("caller").textContent = "";
    document.getElementById("operations").replaceChildren(el("p", { class: "error" }, error.message));
  }
}

document.addEventListener("DOMContentLoaded", () => {
  document.getElementById("credential-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const value = document.getElementById("credential").value.trim();
    if (value) sessionStorage.setItem(STORE, value); else sessionStorage.removeItem(STORE);
    refresh();
  });
  document.getElementById("forget").addEventListener("click", () => {
    sessionStorage.removeItem(STORE);
    document.getElementById("credential").value = "";
    refresh();
  });
  refresh();
});
