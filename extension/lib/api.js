// The tact HTTP API as the extension uses it (crates/server/CONTRACT.md). Only the service
// worker and the options page import this: the token never reaches a content script or a page.

/** Why a call failed, in words a community manager can act on. `kind` drives the panel. */
export class TactError extends Error {
  /**
   * @param {'not_configured'|'unreachable'|'cors'|'unauthorized'|'forbidden'|'queue_full'|'not_found'|'conflict'|'rejected'|'server'|'protocol'} kind
   */
  constructor(kind, message, { status = null, code = null, retryAfter = null } = {}) {
    super(message);
    this.name = 'TactError';
    this.kind = kind;
    this.status = status;
    this.code = code;
    this.retryAfter = retryAfter;
  }

  /** A plain object that survives chrome.storage and message passing. */
  toJSON() {
    return { kind: this.kind, message: this.message, status: this.status, code: this.code, retryAfter: this.retryAfter, at: Date.now() };
  }
}

const REQUEST_TIMEOUT_MS = 20_000;

export class TactClient {
  /** @param {{server: string, token: string}} settings */
  constructor({ server, token }) {
    if (!server || !token) {
      throw new TactError('not_configured', 'Set the tact server URL and your API token in the extension options first.');
    }
    this.base = server.replace(/\/+$/, '');
    this.token = token;
  }

  /** GET/POST a JSON route; resolves with the parsed body or rejects with a TactError. */
  async request(method, route, body, { timeoutMs = REQUEST_TIMEOUT_MS } = {}) {
    const res = await this.#fetch(route, {
      method,
      headers: this.#headers(body ? { 'content-type': 'application/json' } : {}),
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(timeoutMs),
    });
    const text = await res.text();
    if (!res.ok) throw errorFromResponse(res, text);
    if (!text) return null;
    try {
      return JSON.parse(text);
    } catch {
      throw new TactError('protocol', `The server at ${this.base} answered ${route} with something that is not JSON. Is the URL that of a tact server?`, { status: res.status });
    }
  }

  /**
   * Follows a message's server-sent events (`delta`, `candidate`, `ready`, `error`) until the
   * server closes the stream or `signal` aborts. EventSource cannot send a bearer token, so this
   * reads the stream through fetch.
   */
  async streamEvents(messageId, onEvent, signal) {
    const route = `/api/v1/messages/${encodeURIComponent(messageId)}/events`;
    const res = await this.#fetch(route, { headers: this.#headers({ accept: 'text/event-stream' }), signal });
    if (!res.ok) throw errorFromResponse(res, await res.text());
    const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
    const parser = new EventStreamParser(onEvent);
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      parser.push(value);
    }
    parser.end();
  }

  #headers(extra) {
    return { authorization: `Bearer ${this.token}`, ...extra };
  }

  async #fetch(route, init) {
    try {
      return await fetch(`${this.base}${route}`, init);
    } catch (error) {
      if (init.signal?.aborted && init.signal.reason?.name === 'AbortError') throw error;
      if (error?.name === 'TimeoutError' || init.signal?.reason?.name === 'TimeoutError') {
        throw new TactError('unreachable', `The tact server at ${this.base} did not answer within ${REQUEST_TIMEOUT_MS / 1000} s.`);
      }
      throw await networkFailure(this.base);
    }
  }
}

/**
 * fetch says only "Failed to fetch" both when nothing listens and when the server answers
 * without CORS headers for this extension. A no-cors request tells them apart: it succeeds
 * (with an opaque response) whenever the server answers at all.
 */
export async function networkFailure(base) {
  try {
    await fetch(`${base}/healthz`, { mode: 'no-cors', signal: AbortSignal.timeout(5_000) });
  } catch {
    return new TactError('unreachable', `Cannot reach the tact server at ${base}: is it running, and is the URL right?`);
  }
  return new TactError(
    'cors',
    `The tact server at ${base} answered but does not allow this extension (CORS). Add "${self.location.origin}" to server.cors_origins in its configuration.`,
  );
}

function errorFromResponse(res, text) {
  let code = null;
  let serverMessage = null;
  try {
    const body = JSON.parse(text);
    code = body?.error?.code ?? null;
    serverMessage = body?.error?.message ?? null;
  } catch {
    // Not the contract's error shape (a proxy's HTML page, say): the status alone must do.
  }
  const detail = serverMessage ? ` (${serverMessage})` : '';
  const options = { status: res.status, code };
  switch (res.status) {
    case 401:
      return new TactError('unauthorized', `The server rejected the API token: it is wrong, expired or revoked${detail}. Paste a current token in the extension options.`, options);
    case 403:
      return new TactError('forbidden', `Your token may not do this: it lacks the role or the brand it needs${detail}.`, options);
    case 404:
      return new TactError('not_found', serverMessage ?? `The server has no such route or record (${res.url}).`, options);
    case 409:
      // `conflict`: a stale version (someone else acted first); `invalid_transition`: the
      // message's state does not allow this (e.g. approving one's own edit), said by the server.
      if (code === 'conflict') return new TactError('conflict', serverMessage ?? 'Someone changed this message in the meantime.', options);
      return new TactError('rejected', serverMessage ?? `The server refused the request (409).`, options);
    case 413:
      return new TactError('rejected', serverMessage ?? 'The text is too long for the server.', options);
    case 503: {
      const retryAfter = Number.parseInt(res.headers.get('retry-after') ?? '', 10);
      if (code === 'queue_full') {
        const wait = Number.isFinite(retryAfter) ? ` Try again in ${retryAfter} s.` : ' Try again shortly.';
        return new TactError('queue_full', `The server's drafting queue is full.${wait} Your selection is kept.`, {
          ...options,
          retryAfter: Number.isFinite(retryAfter) ? retryAfter : null,
        });
      }
      return new TactError('server', `The server is not ready (503)${detail}.`, options);
    }
    default:
      if (res.status >= 500) return new TactError('server', `The server failed (${res.status})${detail}.`, options);
      return new TactError('rejected', serverMessage ?? `The server refused the request (${res.status}).`, options);
  }
}

/** Incremental text/event-stream parser (the WHATWG rules that tact's server uses). */
export class EventStreamParser {
  constructor(onEvent) {
    this.onEvent = onEvent;
    this.buffer = '';
    this.event = '';
    this.data = [];
  }

  push(chunk) {
    this.buffer += chunk;
    let newline;
    while ((newline = this.buffer.search(/\r\n|\r|\n/)) !== -1) {
      const line = this.buffer.slice(0, newline);
      const width = this.buffer.startsWith('\r\n', newline) ? 2 : 1;
      // A lone \r at the end may be the first half of \r\n: wait for the next chunk.
      if (width === 1 && this.buffer[newline] === '\r' && newline === this.buffer.length - 1) break;
      this.buffer = this.buffer.slice(newline + width);
      this.#line(line);
    }
  }

  end() {
    if (this.buffer) this.#line(this.buffer);
    this.buffer = '';
    this.#line('');
  }

  #line(line) {
    if (line === '') {
      if (this.data.length) {
        const raw = this.data.join('\n');
        let data = raw;
        try {
          data = JSON.parse(raw);
        } catch {
          // Leave non-JSON data as text.
        }
        this.onEvent(this.event || 'message', data);
      }
      this.event = '';
      this.data = [];
      return;
    }
    if (line.startsWith(':')) return;
    const colon = line.indexOf(':');
    const field = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (field === 'event') this.event = value;
    else if (field === 'data') this.data.push(value);
  }
}
