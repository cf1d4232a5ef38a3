// The service worker: the only part of the extension that holds the API token and talks to the
// tact server. Pages ask for drafts (context menu, keyboard shortcut, the selection button);
// the panel asks for checks, submissions, approvals and insertions; every answer lands in a
// draft session (lib/sessions.js) that the panel renders.
import { TactClient, TactError } from './lib/api.js';
import * as sessions from './lib/sessions.js';
import { Stage } from './lib/sessions.js';
import { isConfigured, loadSettings } from './lib/settings.js';

const MENU_ID = 'tact-draft-reply';
const COMMAND = 'request-draft';
/** Statuses whose final text may leave the extension (into a page or the clipboard). */
const RELEASED = new Set(['approved', 'sent']);

chrome.runtime.onInstalled.addListener(() => {
  chrome.contextMenus.create({ id: MENU_ID, title: 'Draft a reply with tact', contexts: ['selection'] });
  chrome.sidePanel.setPanelBehavior({ openPanelOnActionClick: true }).catch(() => {});
});

// ---- requests from pages ------------------------------------------------------------------

chrome.contextMenus.onClicked.addListener((info, tab) => {
  if (info.menuItemId !== MENU_ID || !tab) return;
  openPanel(tab);
  requestDraft({ selection: info.selectionText ?? '', tab, pageUrl: info.pageUrl });
});

chrome.commands.onCommand.addListener((command, tab) => {
  if (command !== COMMAND || !tab) return;
  openPanel(tab);
  draftFromShortcut(tab);
});

/** The shortcut carries no selection: ask the page for it. */
async function draftFromShortcut(tab) {
  let selection = null;
  try {
    selection = await chrome.tabs.sendMessage(tab.id, { type: 'get-selection' });
  } catch {
    // No content script here (a tab opened before the extension was installed, or a page
    // that forbids it): the shortcut's activeTab grant lets us try once directly.
    try {
      const [frame] = await chrome.scripting.executeScript({
        target: { tabId: tab.id },
        func: () => String(getSelection() ?? ''),
      });
      selection = frame?.result ?? '';
    } catch {
      await failNew(tab, new TactError('blocked', `This page (${tab.url || 'a browser page'}) does not let extensions read it. Use the right-click menu on the selected text instead, if it offers tact.`));
      return;
    }
  }
  await requestDraft({ selection, tab });
}

// Each request gets a session, even one that fails at once: the panel shows why, with the text.
async function failNew(tab, error) {
  const session = newSession({ selection: '', tab, settings: await loadSettings() });
  session.stage = Stage.Failed;
  session.error = error.toJSON();
  await sessions.add(session);
}

/** Opens the side panel for the tab's window; must run before any await (user gesture). */
function openPanel(tab) {
  chrome.sidePanel.open({ windowId: tab.windowId }).catch((error) => {
    // Without a user gesture (or on a browser without side panels) the action button opens it.
    console.info('tact: the side panel did not open by itself:', error.message);
  });
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

async function requestDraft({ selection, tab, pageUrl }) {
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
async function submitDraft(id) {
  const session = await sessions.update(id, (s) => {
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

async function follow(id) {
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
    if (!abort.signal.aborted) await fail(id, error);
  } finally {
    streams.delete(id);
  }
}

/** Brings a session up to date with the server's record of its message. */
async function refresh(id) {
  const session = await sessions.get(id);
  const client = await connect();
  const detail = await client.request('GET', `/api/v1/messages/${encodeURIComponent(session.messageId)}`);
  await sessions.update(id, (s) => applyDetail(s, detail));
  return detail;
}

function applyDetail(s, detail) {
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

async function fail(id, error) {
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

async function connect() {
  const settings = await loadSettings();
  if (!isConfigured(settings)) {
    throw new TactError('not_configured', 'Set the tact server URL, your API token, brand and channel in the extension options first.');
  }
  return new TactClient(settings);
}

// ---- the panel's verbs --------------------------------------------------------------------

const verbs = {
  async select({ id }) {
    await sessions.select(id);
  },

  async choose({ id, candidate }) {
    await sessions.update(id, (s) => {
      const c = s.candidates.find((x) => x.index === candidate);
      if (!c) throw new TactError('rejected', `There is no candidate ${candidate}.`);
      s.chosen = candidate;
      s.editText = c.text;
      s.editCheck = { text: c.text, violations: c.violations ?? [], blocks: (c.violations ?? []).filter((v) => v.severity === 'block').length };
    });
  },

  async edit({ id, text }) {
    await sessions.update(id, (s) => {
      s.editText = text;
    });
  },

  /** Re-runs the brand's guideline checks on the edit (the panel calls this as the user types). */
  async check({ id }) {
    const session = await sessions.get(id);
    const text = session.editText ?? '';
    const client = await connect();
    const result = await client.request('POST', '/api/v1/check', { brand: session.brand, channel: session.channel, text });
    await sessions.update(id, (s) => {
      // An answer for text the user has typed past is stale.
      if (s.editText === text) s.editCheck = { text, violations: result.violations ?? [], blocks: result.blocks ?? 0 };
    });
  },

  async submit({ id }) {
    const session = await sessions.get(id);
    const text = session.editText;
    const client = await connect();
    let detail;
    try {
      detail = await client.request('POST', `/api/v1/messages/${encodeURIComponent(session.messageId)}/propose`, {
        version: session.version,
        candidate: session.chosen,
        text,
      });
    } catch (error) {
      if (error instanceof TactError && error.kind === 'not_found' && !error.code) {
        throw new TactError('rejected', 'This tact server cannot take a reply for approval from the extension (it has no /propose route): update it, or approve the reply in the web queue.', { status: 404 });
      }
      throw error;
    }
    await sessions.update(id, (s) => {
      applyDetail(s, detail);
      s.submittedText = text;
      s.notice = 'Submitted for approval: it is in the team\'s review queue.';
    });
  },

  async approve({ id, overrideReason }) {
    const session = await sessions.get(id);
    const client = await connect();
    const body = { version: session.version, candidate: session.chosen };
    // Approving what someone else submitted must not send the text back: the server would
    // count it as this approver's own edit, which the brand's policy may not let them approve.
    if (session.submittedText === null || session.submittedText !== session.editText) body.text = session.editText;
    if (overrideReason?.trim()) body.override_reason = overrideReason.trim();
    const detail = await client.request('POST', `/api/v1/messages/${encodeURIComponent(session.messageId)}/approve`, body);
    await sessions.update(id, (s) => {
      applyDetail(s, detail);
      s.submittedText = s.editText;
      s.notice = s.stage === Stage.Approved
        ? 'Approved. Insert it into the page or copy it.'
        : `Your approval is recorded; ${Math.max(0, (s.approvalsNeeded ?? 1) - s.approvals)} more needed.`;
    });
  },

  /** Puts the server's approved text into the page's reply box, then marks it posted. */
  async insert({ id }) {
    const { session, text } = await releasedText(id);
    const inserted = await insertIntoTab(session.source.tabId, text);
    if (!inserted.ok) throw new TactError('blocked', inserted.reason);
    await markPosted(id, 'Inserted into the page');
  },

  /** Hands the panel the approved text to copy; `copied` then marks it posted. */
  async release({ id }) {
    const { text } = await releasedText(id);
    return { text };
  },

  async copied({ id }) {
    await markPosted(id, 'Copied');
  },

  async retry({ id }) {
    const session = await sessions.get(id);
    if (!session.messageId) await submitDraft(id);
    else if (session.stage === Stage.Drafting) await follow(id);
    else await refresh(id);
  },

  async dismiss({ id }) {
    await sessions.update(id, (s) => {
      s.error = null;
      s.notice = null;
    });
  },

  async openOptions() {
    await chrome.runtime.openOptionsPage();
  },
};

/** The final text, read back from the server: only an approved reply leaves the extension. */
async function releasedText(id) {
  const session = await sessions.get(id);
  if (!session?.messageId) throw new TactError('rejected', 'Only approved text can be inserted or copied: this draft has not reached the server yet.');
  const detail = await refresh(id);
  if (!RELEASED.has(detail.status) || !detail.final_text) {
    throw new TactError('rejected', `Only approved text can be inserted or copied: this reply is ${detail.status.replaceAll('_', ' ')}.`);
  }
  return { session: await sessions.get(id), text: detail.final_text };
}

async function markPosted(id, what) {
  const session = await sessions.get(id);
  if (session.status === 'sent') {
    await sessions.update(id, (s) => {
      s.notice = `${what}; it was already marked posted.`;
    });
    return;
  }
  const client = await connect();
  try {
    const detail = await client.request('POST', `/api/v1/messages/${encodeURIComponent(session.messageId)}/posted`, { version: session.version });
    await sessions.update(id, (s) => {
      applyDetail(s, detail);
      s.notice = `${what} and marked posted.`;
    });
  } catch (error) {
    if (error instanceof TactError) {
      error.message = `${what}, but marking it posted failed: ${error.message} Use "Retry" once the server answers.`;
    }
    throw error;
  }
}

async function insertIntoTab(tabId, text) {
  const message = { type: 'insert', text };
  try {
    return await chrome.tabs.sendMessage(tabId, message);
  } catch {
    // The content script is not in this tab (it predates the install, or the page was
    // reloaded into one that forbids extensions): inject it once and ask again.
  }
  try {
    await chrome.scripting.executeScript({ target: { tabId }, files: ['content.js'] });
    return await chrome.tabs.sendMessage(tabId, message);
  } catch (error) {
    const gone = /No tab with id/i.test(error?.message ?? '');
    return {
      ok: false,
      reason: gone
        ? 'The page you drafted from is closed. Use "Copy" and paste the reply where it belongs.'
        : 'This page does not let extensions insert text (the browser forbids scripts on it). Use "Copy" and paste the reply yourself.',
    };
  }
}

/** The panel and options pages, as opposed to content scripts running in web pages. */
function fromExtensionPage(sender) {
  return sender.id === chrome.runtime.id && Boolean(sender.url?.startsWith(chrome.runtime.getURL('')));
}

chrome.runtime.onMessage.addListener((message, sender, reply) => {
  if (message?.type === 'request-draft' && sender.tab && !fromExtensionPage(sender)) {
    // From the selection button: the click is the user gesture that may open the panel.
    openPanel(sender.tab);
    requestDraft({ selection: message.selection, tab: { ...sender.tab, title: message.title || sender.tab.title, url: message.url || sender.tab.url } });
    reply({ ok: true });
    return false;
  }
  // Pages get no verbs: only the extension's own pages may approve, insert or read a draft.
  if (message?.type !== 'verb' || !fromExtensionPage(sender) || !Object.hasOwn(verbs, message.verb)) return false;
  verbs[message.verb](message)
    .then((result) => reply({ ok: true, ...(result ?? {}) }))
    .catch(async (error) => {
      const tactError = error instanceof TactError ? error : new TactError('server', `Unexpected error: ${error?.message ?? error}`);
      if (!(error instanceof TactError)) console.error('tact:', error);
      if (message.id) {
        await sessions.update(message.id, (s) => {
          s.error = tactError.toJSON();
        });
      }
      reply({ ok: false, error: tactError.toJSON() });
    });
  return true;
});

// ---- the panel's live view ----------------------------------------------------------------

const ports = new Set();

chrome.runtime.onConnect.addListener(async (port) => {
  if (port.name !== 'panel' || !fromExtensionPage(port.sender)) return;
  ports.add(port);
  port.onDisconnect.addListener(() => ports.delete(port));
  port.postMessage(await view(await sessions.snapshot()));
  // A restarted worker lost its streams: pick up sessions that were still drafting.
  const state = await sessions.snapshot();
  for (const s of state.sessions) {
    if (s.stage === Stage.Drafting && s.messageId && !s.error) follow(s.id);
  }
});

sessions.onChange(async (state) => {
  if (!ports.size) return;
  const message = await view(state);
  for (const port of ports) port.postMessage(message);
});

chrome.storage.onChanged.addListener((changes, area) => {
  if (area === 'local' && changes.settings) {
    me = null;
    sessions.snapshot().then(async (state) => {
      const message = await view(state);
      for (const port of ports) port.postMessage(message);
    });
  }
});

/**
 * Who the token belongs to, for showing "Approve"; refetched when the settings change. A
 * failure is remembered briefly so a stream of updates does not become a stream of requests.
 */
let me = null;
const ME_RETRY_MS = 5_000;

async function whoAmI() {
  if (me && !(me.error && Date.now() - me.at > ME_RETRY_MS)) return me;
  try {
    me = await (await connect()).request('GET', '/api/v1/me');
  } catch (error) {
    me = { error: error instanceof TactError ? error.toJSON() : { kind: 'server', message: String(error) }, at: Date.now() };
  }
  return me;
}

async function view(state) {
  const settings = await loadSettings();
  return {
    type: 'state',
    state,
    configured: isConfigured(settings),
    settings: { server: settings.server, brand: settings.brand, channel: settings.channel },
    me: isConfigured(settings) ? await whoAmI() : null,
  };
}

// For tests and for the panel's "try again" path: the same entry points the browser UI uses.
self.tact = { requestDraft, draftFromShortcut };
