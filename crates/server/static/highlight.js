// Violations shown where they are in a text, and audit diffs shown as insertions and deletions,
// built from text nodes only.
import { h } from './dom.js';

/**
 * Maps UTF-8 byte offsets (what the Rust server reports) to string indices (UTF-16 code
 * units). Returns undefined for an offset inside a character or past the end.
 */
export function byteOffsets(text) {
  const index = new Map([[0, 0]]);
  let bytes = 0;
  let units = 0;
  for (const ch of text) {
    const cp = ch.codePointAt(0);
    bytes += cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
    units += ch.length;
    index.set(bytes, units);
  }
  return (byte) => index.get(byte);
}

/**
 * Where each violation sits in `text`: its start/end when the server located it, else the
 * first occurrence of its excerpt. Violations about the whole text (length, say) have none.
 */
export function locate(text, violations) {
  const toIndex = byteOffsets(text);
  const ranges = [];
  for (const v of violations) {
    let start = Number.isInteger(v.start) ? toIndex(v.start) : undefined;
    let end = Number.isInteger(v.end) ? toIndex(v.end) : undefined;
    if (start === undefined || end === undefined || end <= start) {
      const found = find(text, v.excerpt);
      if (!found) continue;
      ({ start, end } = found);
    }
    ranges.push({ start, end, violation: v });
  }
  return ranges;
}

/**
 * The first occurrence of `excerpt` in `text`, exact or else ignoring case (a check may report
 * a term as it is listed, "unfortunately", where the text says "Unfortunately").
 */
function find(text, excerpt) {
  if (!excerpt) return null;
  const at = text.indexOf(excerpt);
  if (at >= 0) return { start: at, end: at + excerpt.length };
  const escaped = excerpt.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const match = new RegExp(escaped, 'iu').exec(text);
  return match ? { start: match.index, end: match.index + match[0].length } : null;
}

/** `text` with each located violation wrapped in a `<mark>` (overlapping ones merged). */
export function highlighted(text, violations) {
  const ranges = locate(text, violations).sort((a, b) => a.start - b.start || b.end - a.end);
  const merged = [];
  for (const r of ranges) {
    const last = merged.at(-1);
    if (last && r.start < last.end) {
      last.end = Math.max(last.end, r.end);
      last.violations.push(r.violation);
    } else {
      merged.push({ start: r.start, end: r.end, violations: [r.violation] });
    }
  }
  const out = document.createDocumentFragment();
  let at = 0;
  for (const m of merged) {
    if (m.start > at) out.append(text.slice(at, m.start));
    const block = m.violations.some((v) => v.severity === 'block');
    const why = m.violations.map((v) => `${v.severity}: ${v.message}`).join('; ');
    out.append(h('mark', {
      class: block ? 'violation block' : 'violation warn',
      title: why,
      dataset: { rule: m.violations.map((v) => v.rule).join(' ') },
    }, text.slice(m.start, m.end), h('span', { class: 'visually-hidden', text: ` (${why})` })));
    at = m.end;
  }
  if (at < text.length) out.append(text.slice(at));
  return out;
}

/** Fills `list` with `violations`, block ones first, and returns it. */
export function violationList(list, violations) {
  const sorted = [...violations].sort((a, b) => (a.severity === 'block' ? 0 : 1) - (b.severity === 'block' ? 0 : 1));
  list.replaceChildren(...sorted.map((v) => h('li', { class: `violation-item ${v.severity === 'block' ? 'block' : 'warn'}`, dataset: { rule: v.rule } },
    h('span', { class: 'severity', text: v.severity === 'block' ? 'Block' : 'Warning' }), ' ',
    h('span', { class: 'violation-message', text: v.message }),
    v.excerpt ? [' ', h('q', { text: v.excerpt })] : null,
    v.clause ? h('span', { class: 'clause', text: v.clause }) : null)));
  return list;
}

/**
 * An audit word diff (`[-removed-]`, `{+added+}`, the rest unchanged) as `<del>`/`<ins>`.
 */
export function diff(text) {
  const out = document.createDocumentFragment();
  const pattern = /\[-([\s\S]*?)-\]|\{\+([\s\S]*?)\+\}/g;
  let at = 0;
  for (const m of text.matchAll(pattern)) {
    if (m.index > at) out.append(text.slice(at, m.index));
    out.append(m[1] !== undefined ? h('del', { text: m[1] }) : h('ins', { text: m[2] }));
    at = m.index + m[0].length;
  }
  if (at < text.length) out.append(text.slice(at));
  return out;
}
