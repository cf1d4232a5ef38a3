// The service worker: the only part of the extension that holds the API token and talks to the
// tact server. Pages ask for drafts (context menu, keyboard shortcut, the selection button);
// the panel asks for checks, submissions, approvals and insertions; every answer lands in a
// draft session (lib/sessions.js) that the panel renders.
import { TactError } from './lib/api.js';
import { connect, failNew, follow, refresh, requestDraft } from './lib/drafting.js';
import * as sessions from './lib/sessions.js';
import { Stage } from './lib/sessions.js';
import { isConfigured, loadSettings } from './lib/settings.js';
import { verbs } from './lib/verbs.js';

const MENU_ID = 'tact-draft-reply';
const COMMAND = 'request-draft';

chrome.runtime.onInstalled.addListener(() => {
  chrome.contextMenus.create({ id: MENU_ID, title: 'Draft a reply with tact', contexts: ['selection'] });
  chrome.sidePanel.setPanelBehavior({ openPanelOnActionClick: true }).catch(() => {});
});

// ---- requests from pages ------------------------------------------------------------------

function onMenuClicked(info, tab) {
  if (info.menuItemId !== MENU_ID || !tab) return;
  openPanel(tab);
  requestDraft({ selection: info.selectionText ?? '', tab, pageUrl: info.pageUrl });
}

function onCommand(command, tab) {
  if (command !== COMMAND || !tab) return;
  openPanel(tab);
  draftFromShortcut(tab);
}

chrome.contextMenus.onClicked.addListener(onMenuClicked);
chrome.commands.onCommand.addListener(onCommand);

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

/** Opens the side panel for the tab's window; must run before any await (user gesture). */
function openPanel(tab) {
  chrome.sidePanel.open({ windowId: tab.windowId }).catch((error) => {
    // Without a user gesture (or on a browser without side panels) the action button opens it.
    console.info('tact: the side panel did not open by itself:', error.message);
  });
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
      if (tactError.kind === 'conflict' && message.id) {
        // Someone acted on the message elsewhere (the web queue): show where it stands now.
        // The edit is kept; the user decides whether to try again.
        await refresh(message.id).catch(() => {});
        tactError.message = `${tactError.message} The panel now shows the message as the server has it; your edit is kept.`;
      }
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

// The browser's menu and shortcut events cannot be synthesised from a test; the tests call the
// same listeners through this handle.
self.tact = { onMenuClicked, onCommand, draftFromShortcut };
