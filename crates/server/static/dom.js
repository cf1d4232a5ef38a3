// DOM helpers. Every piece of text reaches the page through text nodes or attribute setters,
// never parsed as markup: customer messages are hostile input and must render as text.

/** Creates `<tag>` with attributes (`class`, `text`, `on<event>`, `dataset`, others verbatim). */
export function h(tag, props, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(props ?? {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key === 'class') el.className = value;
    else if (key === 'text') el.textContent = value;
    else if (key === 'dataset') Object.assign(el.dataset, value);
    else if (key.startsWith('on') && typeof value === 'function') el.addEventListener(key.slice(2), value);
    else el.setAttribute(key, value === true ? '' : String(value));
  }
  append(el, children);
  return el;
}

/** Appends children: nodes as they are, anything else as text. */
export function append(el, children) {
  for (const child of [children].flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

export function byId(id) {
  const el = document.getElementById(id);
  if (!el) throw new Error(`page is missing #${id}`);
  return el;
}

/** `fn` once `ms` after the last call; `.flush()` runs a pending call now. */
export function debounce(fn, ms) {
  let timer = null;
  let pending = null;
  const debounced = (...args) => {
    pending = args;
    clearTimeout(timer);
    timer = setTimeout(() => { timer = null; const a = pending; pending = null; fn(...a); }, ms);
  };
  debounced.flush = () => {
    if (timer === null) return;
    clearTimeout(timer);
    timer = null;
    const a = pending;
    pending = null;
    fn(...a);
  };
  return debounced;
}

const timeFormat = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' });

/** A `<time>` element showing an RFC 3339 timestamp in the reader's locale. */
export function time(iso) {
  const date = new Date(iso);
  if (!iso || Number.isNaN(date.getTime())) return h('span', { text: iso ?? '' });
  return h('time', { datetime: iso, title: iso, text: timeFormat.format(date) });
}

/** "awaiting_review" → "awaiting review". */
export function words(id) {
  return String(id ?? '').replaceAll('_', ' ');
}

/** A status badge. */
export function statusBadge(status) {
  return h('span', { class: `badge status-${String(status).replace(/[^a-z_]/g, '')}`, text: words(status) });
}

/** Shows a short message in the page's polite live region. */
export function toast(message) {
  const el = document.getElementById('toast');
  if (!el) return;
  el.textContent = message;
  el.classList.add('visible');
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => el.classList.remove('visible'), 5000);
}

/** Whether a key press belongs to a field the user is typing in (shortcuts stay out of it). */
export function isTyping(event) {
  const t = event.target;
  if (!(t instanceof Element)) return false;
  if (t.closest('dialog[open]')) return true;
  return t.isContentEditable || ['INPUT', 'TEXTAREA', 'SELECT'].includes(t.tagName);
}

/**
 * Single-key shortcuts: `bindings` maps a key to a handler. Keys pressed with a modifier or while
 * typing in a field are left alone.
 */
export function shortcuts(bindings) {
  document.addEventListener('keydown', (event) => {
    if (event.ctrlKey || event.metaKey || event.altKey || event.isComposing) return;
    if (isTyping(event)) return;
    const handler = bindings[event.key];
    if (!handler) return;
    event.preventDefault();
    handler(event);
  });
}
