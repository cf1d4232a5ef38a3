// Draft sessions' life on the server: recording the selection as an inbound message, following
// its drafting events, and bringing a session up to date with the server's record.
import { TactClient, TactError } from './api.js';
import * as sessions from './sessions.js';
import { Stage } from './sessions.js';
import { isConfigured, loadSettings } from './settings.js';

// Each request gets a session, even one that fails at once: the panel shows why, with the text.
export async function failNew(tab, error) {
  const session = newSession({ selection: '', tab, settings: await loadSettings() });
  session.stage = Stage.Failed;
  session.error = error.toJSON();
  await sessions.add(session);
}

function newSession({ selection, tab, pageUrl, settings }) {
  return {
    id: crypto.randomUUID(),
    createdAt: new Date().toISOString(),
    updatedAt: new Date().toISOString(),
    source: { tabId: tab.id, url: tab.url || pageUrl || '', title: tab.title || '' },
    selection,
    brand: settings.brand,
    channel: settings.channel,
    stage: Stage.Requesting,
    messageId: null,
    version: null,
    status: null,
    candidates: [],
    chosen: null,
    editText: null,
    editCheck: null,
    submittedText: null,
    finalText: null,
    approvalsNeeded: null,
    approvals: 0,
    notice: null,
    error: null,
  };
}

export async function requestDraft({ selection, tab, pageUrl }) {
  const settings = await loadSettings();
  const session = newSession({ selection: (selection ?? '').trim(), tab, pageUrl, settings });
  await sessions.add(session);
  if (!session.selection) {
    await fail(session.id, new TactError('rejected', 'Nothing is selected: select the comment you want to answer, then ask again.'));
    return;
  }
  await submitDraft(session.id);
}

/** Records the selection as an inbound message on the server and follows its drafting. */
export async function submitDraft(id) {
  const settings = await loadSettings();
  const session = await sessions.update(id, (s) => {
    // A request made before the extension was set up takes the defaults saved since.
    s.brand ||= settings.brand;
    s.channel ||= settings.channel;
    s.stage = Stage.Requesting;
    s.error = null;
    s.notice = null;
  });
  try {
    const client = await connect();
    const summary = await client.request('POST', '/api/v1/drafts', {
      brand: session.brand,
      channel: session.channel,
      text: session.selection,
      context: { url: session.source.url, title: session.source.title },
    });
    await sessions.update(id, (s) => {
      s.messageId = summary.id;
      s.version = summary.version;
      s.status = summary.status;
      s.stage = Stage.Drafting;
    });
    await follow(id);
  } catch (error) {
    await fail(id, error);
  }
}

// ---- streaming --------------------------------------------------------------------------

/** Open event streams by session id, so a session is followed once. */
const streams = new Map();

export async function follow(id) {
  if (streams.has(id)) return;
  const abort = new AbortController();
  streams.set(id, abort);
  try {
    const session = await sessions.get(id);
    const client = await connect();
    let ready = false;
    await client.streamEvents(session.messageId, (event, data) => {
      if (event === 'delta') {
        sessions.update(id, (s) => {
          const i = data.candidate;
          s.candidates[i] ??= { index: i, text: '', citations: [], violations: [], streaming: true };
          s.candidates[i].text += data.text;
        }, { immediate: false });
      } else if (event === 'candidate') {
        sessions.update(id, (s) => {
          s.candidates[data.index] = { ...data, streaming: false };
        }, { immediate: false });
      } else if (event === 'ready') {
        ready = true;
        sessions.update(id, (s) => applyDetail(s, data));
      } else if (event === 'error') {
        const e = data?.error ?? {};
        sessions.update(id, (s) => {
          s.stage = Stage.Failed;
          s.error = new TactError(e.code === 'queue_full' ? 'queue_full' : 'server', `Drafting failed: ${e.message ?? 'the server gave no reason'}.`, { code: e.code ?? null }).toJSON();
        });
      }
    }, abort.signal);
    if (!ready) await refresh(id);
  } catch (error) {
    if (abort.signal.aborted) return;
    await fail(id, error instanceof TactError
      ? error
      : new TactError('unreachable', 'The connection to the tact server dropped while drafting. Retry picks the drafts up where the server has them.'));
  } finally {
    streams.delete(id);
  }
}

/** Brings a session up to date with the server's record of its message. */
export async function refresh(id) {
  const session = await sessions.get(id);
  const client = await connect();
  const detail = await client.request('GET', `/api/v1/messages/${encodeURIComponent(session.messageId)}`);
  await sessions.update(id, (s) => applyDetail(s, detail));
  return detail;
}

export function applyDetail(s, detail) {
  s.messageId = detail.id;
  s.version = detail.version;
  s.status = detail.status;
  if (Array.isArray(detail.candidates) && detail.candidates.length) {
    s.candidates = detail.candidates.map((c) => ({ ...c, streaming: false }));
  }
  s.finalText = detail.final_text ?? null;
  s.approvalsNeeded = detail.approvals_needed ?? null;
  s.approvals = detail.proposal?.approved_by?.length ?? 0;
  if (detail.proposal) {
    s.submittedText = detail.proposal.text;
    s.chosen ??= detail.proposal.candidate;
    s.editText ??= detail.proposal.text;
  }
  s.stage = stageOf(detail.status);
  if (s.stage !== Stage.Failed) s.error = null;
  if (s.chosen === null && s.candidates.length && s.stage === Stage.Review) {
    // Preselect the best-ranked candidate so the editor is ready.
    const best = [...s.candidates].sort((a, b) => (b.score?.total ?? 0) - (a.score?.total ?? 0))[0];
    s.chosen = best.index;
    s.editText ??= best.text;
  }
}

function stageOf(status) {
  switch (status) {
    case 'received':
    case 'drafting':
      return Stage.Drafting;
    case 'awaiting_review':
      return Stage.Review;
    case 'approved':
      return Stage.Approved;
    case 'sent':
      return Stage.Posted;
    case 'rejected':
    case 'escalated':
      return Stage.Closed;
    case 'failed':
      return Stage.Failed;
    default:
      return Stage.Failed;
  }
}

export async function fail(id, error) {
  if (!(error instanceof TactError)) {
    console.error('tact:', error);
    error = new TactError('server', `Unexpected error: ${error?.message ?? error}`);
  }
  await sessions.update(id, (s) => {
    s.error = error.toJSON();
    // Before the server took the message, the request itself is what failed; later, the
    // session keeps its stage so the user can retry the action.
    if (!s.messageId) s.stage = Stage.Failed;
  });
}

export async function connect() {
  const settings = await loadSettings();
  if (!isConfigured(settings)) {
    throw new TactError('not_configured', 'Set the tact server URL, your API token, brand and channel in the extension options first.');
  }
  return new TactClient(settings);
}
