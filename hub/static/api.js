// The service's JSON API as the pages call it (an ES module every page script imports): the
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

/** `method` `url` with the page's XSRF token and `payload` — JSON, or sent as it is (bytes, a
 * Blob) when `contentType` is given: {ok, status, data, message, raw}, where `data` is the
 * answer's JSON (null when it has none), `raw` its error message as the API wrote it and
 * `message` that in the page's language. */
export async function request(method, url, payload, contentType) {
  const headers = { "X-XSRFToken": body.dataset.xsrf, Accept: "application/json" };
  const init = { method, headers, credentials: "same-origin" };
  if (payload !== undefined) {
    headers["Content-Type"] = contentType || "application/json";
    init.body = contentType ? payload : JSON.stringify(payload);
  }
  const response = await fetch(url, init);
  let data = null;
  try {
    data = await response.json();
  } catch (e) {
    data = null;
  }
  const raw = response.ok ? "" : (data && data.message) || `${response.status} ${response.statusText}`;
  return { ok: response.ok, status: response.status, data, message: oneLanguage(raw), raw };
}

/** `request`, for pages that only need the answer: its JSON when it succeeded, else an Error
 * with the API's message, and `problems` (the rows or files it refused), `status` and `data`. */
export async function call(method, url, payload, contentType) {
  const r = await request(method, url, payload, contentType);
  if (!r.ok) {
    const error = new Error(r.raw);
    error.problems = (r.data && r.data.problems) || [];
    error.status = r.status;
    error.data = r.data;
    throw error;
  }
  return r.data;
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
  const text = String(message ?? "");
  const parts = text.split(" / ").map((p) => p.trim());
  if (parts.length !== 2) return text;
  const korean = parts.map((p) => HANGUL.test(p));
  if (korean.filter(Boolean).length !== 1) return text;
  return parts[korean.indexOf(lang === "ko")];
}
