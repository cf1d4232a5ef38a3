// The JSON API (/api/v1) with the bearer token the reviewer signed in with. The token lives in
// sessionStorage (this tab only) and travels in the Authorization header, never in a URL.

const TOKEN_KEY = 'tact.token';
const NOTICE_KEY = 'tact.sign-in-notice';

export const session = {
  token: () => sessionStorage.getItem(TOKEN_KEY),
  signIn: (token) => sessionStorage.setItem(TOKEN_KEY, token),
  signOut: () => sessionStorage.removeItem(TOKEN_KEY),
  /** A message for the sign-in page, read once. */
  takeNotice() {
    const notice = sessionStorage.getItem(NOTICE_KEY);
    sessionStorage.removeItem(NOTICE_KEY);
    return notice;
  },
};

/** An error answer of the API (`{"error":{"code","message"}}`), or a network failure. */
export class ApiError extends Error {
  constructor(status, code, message, retryAfter = null) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
    this.retryAfter = retryAfter;
  }
}

/** Sends the reviewer to the sign-in page, to come back here afterwards. */
export function toSignIn(notice) {
  if (notice) sessionStorage.setItem(NOTICE_KEY, notice);
  const back = location.pathname + location.search;
  location.assign(`/sign-in?next=${encodeURIComponent(back)}`);
}

function headers(token, extra = {}) {
  return { authorization: `Bearer ${token}`, ...extra };
}

async function errorOf(res, what) {
  const text = await res.text().catch(() => '');
  let body = null;
  try { body = text ? JSON.parse(text) : null; } catch { /* not JSON: described below */ }
  const code = body?.error?.code ?? `http_${res.status}`;
  const message = body?.error?.message ?? `${what} failed with HTTP ${res.status}${text ? `: ${text.slice(0, 200)}` : ''}`;
  return new ApiError(res.status, code, message, res.headers.get('retry-after'));
}

async function send(method, path, { body, signal, token = session.token(), accept } = {}) {
  if (!token) {
    toSignIn();
    throw new ApiError(401, 'unauthorized', 'Not signed in.');
  }
  const extra = {};
  if (body !== undefined) extra['content-type'] = 'application/json';
  if (accept) extra.accept = accept;
  try {
    return await fetch(`/api/v1${path}`, {
      method,
      headers: headers(token, extra),
      body: body === undefined ? undefined : JSON.stringify(body),
      signal,
      cache: 'no-store',
      credentials: 'omit',
    });
  } catch (err) {
    if (err.name === 'AbortError') throw err;
    throw new ApiError(0, 'network', `Could not reach the tact server (${err.message}).`);
  }
}

/**
 * Calls the API and returns the parsed JSON. A 401 with the stored token ends the session and
 * goes to the sign-in page; other errors are thrown as ApiError.
 */
export async function api(method, path, options = {}) {
  const res = await send(method, path, options);
  if (!res.ok) {
    const err = await errorOf(res, `${method} ${path}`);
    if (res.status === 401 && options.token === undefined) {
      session.signOut();
      toSignIn(`Signed out: ${err.message}`);
    }
    throw err;
  }
  const text = await res.text();
  return text ? JSON.parse(text) : null;
}

export const get = (path, options) => api('GET', path, options);
export const post = (path, body, options = {}) => api('POST', path, { ...options, body });

/** Builds `?a=1&b=2` from the non-empty values of `params`. */
export function query(params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== '') q.set(k, v);
  const s = q.toString();
  return s ? `?${s}` : '';
}

/** Path segment for an id (ids are strings chosen by whoever submitted the message). */
export const seg = (id) => encodeURIComponent(id);

/**
 * Follows a server-sent event stream (fetch, not EventSource, so the token goes in a header).
 * Calls `onEvent(name, data)` with each event's parsed JSON; resolves when the stream ends.
 */
export async function events(path, onEvent, { signal } = {}) {
  const res = await send('GET', path, { signal, accept: 'text/event-stream' });
  if (!res.ok) throw await errorOf(res, `GET ${path}`);
  const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer = (buffer + value).replaceAll('\r\n', '\n');
    let end;
    while ((end = buffer.indexOf('\n\n')) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      const event = parseEvent(block);
      if (event) onEvent(event.name, event.data);
    }
  }
}

function parseEvent(block) {
  let name = 'message';
  const data = [];
  for (const line of block.split('\n')) {
    if (line === '' || line.startsWith(':')) continue;
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (field === 'event') name = value;
    else if (field === 'data') data.push(value);
  }
  if (data.length === 0) return null;
  const text = data.join('\n');
  try {
    return { name, data: JSON.parse(text) };
  } catch {
    return { name, data: text };
  }
}
