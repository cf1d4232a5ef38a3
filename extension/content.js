// Runs in every web page (isolated from the page's own scripts). It shows a small "Draft reply"
// button next to a text selection, answers the service worker's "what is selected?", and puts
// approved text into the reply box the user last focused. It never sees the API token and
// never talks to the tact server.
(() => {
  if (globalThis.__tactContentScript) return;
  globalThis.__tactContentScript = true;

  const MIN_SELECTION = 2;
  let lastEditable = null;
  let lastRange = null;
  let button = null;
  let pendingSelection = '';

  // ---- which reply box: the focused one, or the one focused last -------------------------

  function isEditable(el) {
    if (!el || el.disabled || el.readOnly) return false;
    if (el instanceof HTMLTextAreaElement) return true;
    if (el instanceof HTMLInputElement) return ['text', 'search', 'email', 'url', ''].includes(el.type);
    return el instanceof HTMLElement && el.isContentEditable;
  }

  function editableRoot(el) {
    if (!(el instanceof HTMLElement) || !el.isContentEditable) return el;
    while (el.parentElement?.isContentEditable) el = el.parentElement;
    return el;
  }

  document.addEventListener('focusin', (event) => {
    const target = event.composedPath()[0];
    if (isEditable(target)) lastEditable = editableRoot(target);
  }, true);

  // Clicking into the extension's panel blurs the page: remember where the caret was.
  document.addEventListener('selectionchange', () => {
    const active = document.activeElement;
    if (active && isEditable(active) && active.isContentEditable) {
      const selection = getSelection();
      if (selection.rangeCount) lastRange = selection.getRangeAt(0).cloneRange();
    }
  });

  function insert(text) {
    const active = document.activeElement;
    const target = isEditable(active) ? editableRoot(active) : lastEditable;
    if (!target || !target.isConnected) {
      return { ok: false, reason: 'No reply box on the page has been focused: click into the box you want to answer in, then insert again.' };
    }
    target.focus();
    if (target instanceof HTMLTextAreaElement || target instanceof HTMLInputElement) {
      const before = target.value;
      // insertText keeps the page's undo history and fires the input events its scripts
      // (React and the like) listen to; setRangeText is the fallback when it is refused.
      if (!document.execCommand('insertText', false, text) || target.value === before) {
        target.setRangeText(text, target.selectionStart ?? before.length, target.selectionEnd ?? before.length, 'end');
        target.dispatchEvent(new InputEvent('input', { bubbles: true, inputType: 'insertText', data: text }));
      }
      return { ok: true };
    }
    const selection = getSelection();
    if (lastRange && target.contains(lastRange.startContainer)) {
      selection.removeAllRanges();
      selection.addRange(lastRange);
    } else if (!selection.rangeCount || !target.contains(selection.anchorNode)) {
      selection.selectAllChildren(target);
      selection.collapseToEnd();
    }
    const before = target.textContent;
    if (!document.execCommand('insertText', false, text) || target.textContent === before) {
      const range = selection.getRangeAt(0);
      range.deleteContents();
      range.insertNode(document.createTextNode(text));
      range.collapse(false);
      target.dispatchEvent(new InputEvent('input', { bubbles: true, inputType: 'insertText', data: text }));
    }
    return { ok: true };
  }

  chrome.runtime.onMessage.addListener((message, _sender, reply) => {
    if (message?.type === 'get-selection') {
      reply(String(getSelection() ?? '') || pendingSelection);
    } else if (message?.type === 'insert') {
      reply(insert(String(message.text)));
    }
    return false;
  });

  // ---- the selection button -----------------------------------------------------------------

  function makeButton() {
    const host = document.createElement('tact-draft-button');
    host.style.cssText = 'position:absolute;z-index:2147483647;top:0;left:0;display:none;';
    const root = host.attachShadow({ mode: 'closed' });
    root.innerHTML = `
      <style>
        button { font: 600 12px/1 system-ui, sans-serif; color: #fff; background: #0f766e; border: 0;
          border-radius: 6px; padding: 6px 9px; cursor: pointer; box-shadow: 0 2px 6px rgb(0 0 0 / .25); }
        button:hover { background: #115e59; }
        button:focus-visible { outline: 2px solid #f59e0b; outline-offset: 2px; }
      </style>
      <button type="button" title="Draft a reply to the selected text with tact">Draft reply</button>`;
    const el = root.querySelector('button');
    // Keep the page's selection: a mousedown on the button would otherwise clear it.
    el.addEventListener('mousedown', (event) => event.preventDefault());
    el.addEventListener('click', (event) => {
      // Only a person's click sends page text to the server, never the page's own scripts.
      if (!event.isTrusted) return;
      const selection = pendingSelection;
      hideButton();
      chrome.runtime.sendMessage({ type: 'request-draft', selection, url: location.href, title: document.title }).catch(() => {
        // The extension was reloaded or removed: this page's copy of the script is orphaned.
      });
    });
    document.documentElement.append(host);
    return host;
  }

  function showButton() {
    const selection = getSelection();
    const text = String(selection ?? '').trim();
    if (text.length < MIN_SELECTION || !selection.rangeCount || isEditable(document.activeElement)) {
      hideButton();
      return;
    }
    const rect = selection.getRangeAt(selection.rangeCount - 1).getBoundingClientRect();
    if (!rect.width && !rect.height) return hideButton();
    pendingSelection = text;
    button ??= makeButton();
    button.style.left = `${Math.max(0, rect.right + scrollX - 8)}px`;
    button.style.top = `${rect.bottom + scrollY + 6}px`;
    button.style.display = 'block';
    button.dataset.tactVisible = 'true';
  }

  function hideButton() {
    if (!button) return;
    button.style.display = 'none';
    delete button.dataset.tactVisible;
  }

  document.addEventListener('mouseup', (event) => {
    if (event.composedPath().includes(button)) return;
    setTimeout(showButton, 0);
  });
  document.addEventListener('keyup', (event) => {
    if (event.shiftKey || event.key === 'Shift') setTimeout(showButton, 0);
    if (event.key === 'Escape') hideButton();
  });
  document.addEventListener('mousedown', (event) => {
    if (!event.composedPath().includes(button)) hideButton();
  });
})();
