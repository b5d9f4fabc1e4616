// SMS segment arithmetic for the reply box: a port of src/sms/segments/ (gsm7.rs,
// parts.rs, smart.rs). Keep the two in step: the server bills what it computes, and
// this counter must show the same figure before the agent presses Enter.
//
// GSM-7 when every character is in the basic table or the extension table; extension
// characters (^ { } \ [ ~ ] | € and form feed) cost two septets and the pair never
// splits. 160 septets in one segment, 153 per concatenated part. Otherwise UCS-2: 70
// UTF-16 units, 67 per part, never splitting a grapheme cluster (so never a surrogate
// pair) unless the cluster is longer than a part, then only between code points.

const BASIC =
  "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞ\u001BÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?" +
  "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà";
const EXTENSION = "\u000C^{}\\[~]|€";

/** Septets `ch` (one code point) costs in GSM-7, or null when it is not GSM-7. */
export function septets(ch) {
  if (EXTENSION.includes(ch)) return 2;
  if (ch === "\u001B") return null; // the escape septet is not a character
  return ch.length === 1 && BASIC.includes(ch) ? 1 : null;
}

export function isGsm7(ch) {
  return septets(ch) !== null;
}

const utf16Len = (s) => s.length;

/** [encoding, units] of a text. */
function measure(text) {
  let n = 0;
  for (const ch of text) {
    const s = septets(ch);
    if (s === null) return ["UCS-2", utf16Len(text)];
    n += s;
  }
  return ["GSM-7", n];
}

const SINGLE = { "GSM-7": 160, "UCS-2": 70 };
const PART = { "GSM-7": 153, "UCS-2": 67 };

const graphemes = (s) =>
  typeof Intl !== "undefined" && Intl.Segmenter
    ? Array.from(new Intl.Segmenter(undefined, { granularity: "grapheme" }).segment(s), (g) => g.segment)
    : Array.from(s);

function gsm7PartEnd(rest) {
  let used = 0;
  let i = 0;
  for (const ch of rest) {
    const cost = septets(ch) ?? 1;
    if (used + cost > PART["GSM-7"]) return i;
    used += cost;
    i += ch.length;
  }
  return rest.length;
}

function ucs2PartEnd(rest) {
  const limit = PART["UCS-2"];
  let used = 0;
  let start = 0;
  for (const cluster of graphemes(rest)) {
    const units = utf16Len(cluster);
    if (used + units <= limit) {
      used += units;
      start += units;
      continue;
    }
    if (used > 0 && units <= limit) return start;
    // Oversized cluster: fill this part code point by code point.
    let offset = 0;
    for (const ch of cluster) {
      if (used + ch.length > limit) return start + offset;
      used += ch.length;
      offset += ch.length;
    }
    start += units;
  }
  return rest.length;
}

/** The parts `text` is sent as; concatenated they give it back. */
export function split(text) {
  const [encoding, units] = measure(text);
  if (units <= SINGLE[encoding]) return [text];
  const parts = [];
  let rest = text;
  while (rest.length > 0) {
    const end = encoding === "GSM-7" ? gsm7PartEnd(rest) : ucs2PartEnd(rest);
    parts.push(rest.slice(0, end));
    rest = rest.slice(end);
  }
  return parts;
}

/**
 * What a text costs: { encoding, segments, units, remaining } where `remaining` is
 * the exact units still free in the last segment (remaining_in_last_segment).
 */
export function count(text) {
  const [encoding, units] = measure(text);
  if (units <= SINGLE[encoding]) {
    return { encoding, segments: 1, units, remaining: SINGLE[encoding] - units };
  }
  const parts = split(text);
  const last = parts[parts.length - 1] ?? "";
  const lastUnits = encoding === "GSM-7" ? measure(last)[1] : utf16Len(last);
  return {
    encoding,
    segments: parts.length,
    units,
    remaining: Math.max(0, PART[encoding] - lastUnits),
  };
}

/** Look-alike → GSM-7 replacement (possibly empty), as in smart.rs. */
export const LOOK_ALIKES = new Map([
  ["\u2018", "'"], ["\u2019", "'"], ["\u201A", "'"], ["\u201B", "'"], ["\u2032", "'"],
  ["\u02BC", "'"], ["\u00B4", "'"], ["\u2039", "'"], ["\u203A", "'"],
  ["\u201C", '"'], ["\u201D", '"'], ["\u201E", '"'], ["\u201F", '"'], ["\u2033", '"'],
  ["\u00AB", '"'], ["\u00BB", '"'],
  ["\u2010", "-"], ["\u2011", "-"], ["\u2012", "-"], ["\u2013", "-"], ["\u2014", "-"],
  ["\u2015", "-"], ["\u2212", "-"], ["\u2022", "-"], ["\u2043", "-"],
  ["\u2026", "..."], ["\u2044", "/"], ["\u2215", "/"],
  ["\t", " "], ["\u00A0", " "],
  ["\u2000", " "], ["\u2001", " "], ["\u2002", " "], ["\u2003", " "], ["\u2004", " "],
  ["\u2005", " "], ["\u2006", " "], ["\u2007", " "], ["\u2008", " "], ["\u2009", " "],
  ["\u200A", " "], ["\u202F", " "], ["\u205F", " "], ["\u3000", " "],
  ["\u2028", "\n"], ["\u2029", "\n"],
  ["\u200B", ""], ["\u2060", ""], ["\uFEFF", ""], ["\u00AD", ""],
]);

/**
 * `text` with look-alikes replaced when that makes it GSM-7 without costing more
 * segments; otherwise `text` unchanged (all or nothing, like smart_encode).
 */
export function smartEncode(text) {
  let needsSwap = false;
  for (const ch of text) {
    if (isGsm7(ch)) continue;
    if (!LOOK_ALIKES.has(ch)) return text;
    needsSwap = true;
  }
  if (!needsSwap) return text;
  let swapped = "";
  for (const ch of text) swapped += isGsm7(ch) ? ch : LOOK_ALIKES.get(ch) ?? ch;
  const after = count(swapped);
  return after.encoding === "GSM-7" && after.segments <= count(text).segments ? swapped : text;
}

/** The code points of `text` that force UCS-2, each with its UTF-16 offset. */
export function nonGsm(text) {
  const out = [];
  let i = 0;
  for (const ch of text) {
    if (!isGsm7(ch)) out.push({ ch, index: i, lookAlike: LOOK_ALIKES.has(ch) });
    i += ch.length;
  }
  return out;
}
