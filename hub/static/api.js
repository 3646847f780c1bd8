// The service's JSON API as the pages call it (an ES module; static/adjust.js imports it): the
// page's XSRF token goes with every request (the API accepts the hub's OAuth cookie only with it),
// and the answer comes back whole — status and JSON body — so that a page can show what a refusal
// carries (a 409's stored grade). Small helpers the pages share: messages with {named} values,
// numbers and times in the page's language and the cohort's time zone, and one language of the
// API's `English / 한국어` messages.
// Nothing here builds HTML.

const body = document.body;
export const lang = body.dataset.lang || "ko";
export const zone = body.dataset.zone || "UTC";
export const api = `${body.dataset.prefix}api/v1/`;

/** `method` `url` with the page's XSRF token (and `payload` as JSON): {ok, status, data}, where
 * `data` is the answer's JSON (null when it has none) and `message` its error message, if any. */
export async function request(method, url, payload) {
  const headers = { "X-XSRFToken": body.dataset.xsrf, Accept: "application/json" };
  const init = { method, headers, credentials: "same-origin" };
  if (payload !== undefined) {
    headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(payload);
  }
  const response = await fetch(url, init);
  let data = null;
  try {
    data = await response.json();
  } catch (e) {
    data = null;
  }
  const message = response.ok
    ? ""
    : oneLanguage((data && data.message) || `${response.status} ${response.statusText}`);
  return { ok: response.ok, status: response.status, data, message };
}

/** `text` with its {key}s replaced by `values`. */
export const fmt = (text, values) =>
  text.replace(/\{(\w+)\}/g, (whole, key) => (key in values ? String(values[key]) : whole));

/** A number as the page's language writes it. */
export const number = (value, digits = 2) =>
  new Intl.NumberFormat(lang, { maximumFractionDigits: digits }).format(value);

/** An ISO instant as `yyyy-MM-dd HH:mm` in the cohort's time zone (as the pages' `when`). */
export function when(iso) {
  const parts = {};
  for (const p of new Intl.DateTimeFormat("en-CA", {
    timeZone: zone,
    year: "numeric",
    month: "2-digit",
    day: "2-digit",
    hour: "2-digit",
    minute: "2-digit",
    hourCycle: "h23",
  }).formatToParts(new Date(iso))) {
    parts[p.type] = p.value;
  }
  return `${parts.year}-${parts.month}-${parts.day} ${parts.hour}:${parts.minute}`;
}

const HANGUL = /[\u3131-\u318E\uAC00-\uD7A3]/;

/** The part of an `English / 한국어` message in the page's language (hub/locale `one_language`). */
export function oneLanguage(message) {
  const parts = message.split(" / ").map((p) => p.trim());
  if (parts.length !== 2) return message;
  const korean = parts.map((p) => HANGUL.test(p));
  if (korean.filter(Boolean).length !== 1) return message;
  return parts[korean.indexOf(lang === "ko")];
}
