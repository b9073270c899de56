// The campaign builder: a live SMS length and part counter per language, and the trigger's fields
// shown for the chosen kind. The page works without it (the server counts when it renders).
"use strict";

const GSM_BASIC = new Set(Array.from(
  "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?" +
  "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"));
const GSM_EXTENSION = new Set(Array.from("^{}\\[~]|€\f"));
const LIMITS = { "GSM-7": [160, 153], "UCS-2": [70, 67] };

// The same count as web/sms.py: GSM-7 when every character is in the GSM alphabet, else UCS-2;
// an escape pair or a surrogate pair never straddles two parts.
function countSms(text) {
  const chars = Array.from(text);
  const gsm = chars.every((ch) => GSM_BASIC.has(ch) || GSM_EXTENSION.has(ch));
  const encoding = gsm ? "GSM-7" : "UCS-2";
  const weights = chars.map((ch) => (gsm ? (GSM_EXTENSION.has(ch) ? 2 : 1) : (ch.codePointAt(0) > 0xffff ? 2 : 1)));
  const units = weights.reduce((a, b) => a + b, 0);
  const [single, part] = LIMITS[encoding];
  if (units === 0) return { encoding, units, parts: 0, left: single };
  if (units <= single) return { encoding, units, parts: 1, left: single - units };
  let parts = 1;
  let used = 0;
  for (const w of weights) {
    if (used + w > part) { parts += 1; used = 0; }
    used += w;
  }
  return { encoding, units, parts, left: part - used };
}

function wireCounters() {
  document.querySelectorAll("output[data-sms-count]").forEach((out) => {
    const area = document.getElementById(out.dataset.smsCount);
    if (!area) return;
    // The server's wording, with placeholders, in the page's language.
    const template = out.dataset.template;
    const update = () => {
      const c = countSms(area.value);
      out.textContent = template.replace(/\{(encoding|units|parts|left)\}/g, (_, name) => String(c[name]));
      out.classList.toggle("multi", c.parts > 1);
    };
    area.addEventListener("input", update);
  });
}

function wireTrigger() {
  const radios = document.querySelectorAll("input[name=trigger_type]");
  const show = () => radios.forEach((r) => {
    const part = document.getElementById(r.dataset.shows);
    if (part) part.hidden = !r.checked;
  });
  radios.forEach((r) => r.addEventListener("change", show));
  show();
}

// An example's button puts its tree in the conditions box; the input event re-counts the audience.
function wireExamples() {
  document.querySelectorAll("button[data-example]").forEach((button) => {
    button.addEventListener("click", () => {
      const area = document.getElementById(button.dataset.target);
      if (!area) return;
      area.value = JSON.stringify(JSON.parse(button.dataset.example), null, 2);
      area.dispatchEvent(new Event("input", { bubbles: true }));
      area.focus();
    });
  });
}

// A typed value as JSON: numbers, true/false, else text.
function typed(text) {
  const t = text.trim();
  if (/^-?\d+(\.\d+)?$/.test(t)) return Number(t);
  if (t === "true" || t === "false") return t === "true";
  return t;
}

// "Add condition" builds one comparison from the three inputs and joins it to the tree with all.
function wireAdder() {
  document.querySelectorAll("button[data-add-condition]").forEach((button) => {
    button.addEventListener("click", () => {
      const area = document.getElementById(button.dataset.addCondition);
      const field = document.getElementById(button.dataset.field).value;
      const op = document.getElementById(button.dataset.op).value;
      const raw = document.getElementById(button.dataset.value).value;
      const node = { field, op };
      if (["in", "not_in", "between"].includes(op)) node.value = raw.split(",").map(typed);
      else if (op !== "is_null") node.value = typed(raw);
      let tree = node;
      if (area.value.trim()) {
        let current;
        try { current = JSON.parse(area.value); } catch (e) { area.focus(); return; }
        tree = current && Array.isArray(current.all) ? { all: [...current.all, node] } : { all: [current, node] };
      }
      area.value = JSON.stringify(tree, null, 2);
      area.dispatchEvent(new Event("input", { bubbles: true }));
    });
  });
}

document.addEventListener("DOMContentLoaded", () => {
  wireCounters();
  wireTrigger();
  wireExamples();
  wireAdder();
});
