// The extension's settings: where the tact server is, the API token, and the brand and channel
// a draft is for unless the panel says otherwise. Kept in chrome.storage.local, which page
// scripts cannot reach; only the service worker and the options page read the token.

const KEY = 'settings';

export const EMPTY_SETTINGS = Object.freeze({ server: '', token: '', brand: '', channel: '' });

/** Brand and channel ids as tact writes them (`northwind`, `x`, `email`). */
const ID = /^[a-z0-9][a-z0-9_-]{0,63}$/;

/**
 * Checks what the user typed and returns `{ settings, errors }`: the normalised settings, and
 * a message per field that is wrong (an empty object when all is well).
 */
export function validateSettings(input) {
  const errors = {};
  const settings = {
    server: String(input.server ?? '').trim(),
    token: String(input.token ?? '').trim(),
    brand: String(input.brand ?? '').trim(),
    channel: String(input.channel ?? '').trim(),
  };

  if (!settings.server) {
    errors.server = 'Enter the address of your tact server, e.g. http://127.0.0.1:8080.';
  } else {
    let url = null;
    try {
      url = new URL(settings.server);
    } catch {
      errors.server = `"${settings.server}" is not a URL: write it with its scheme, e.g. https://tact.example.com.`;
    }
    if (url) {
      if (url.protocol !== 'http:' && url.protocol !== 'https:') {
        errors.server = `The server URL must start with http:// or https://, not ${url.protocol}//.`;
      } else if (url.username || url.password) {
        errors.server = 'Leave credentials out of the server URL: the API token goes in its own field.';
      } else if (url.search || url.hash) {
        errors.server = 'The server URL must not have a query (?…) or fragment (#…).';
      } else if (url.protocol === 'http:' && !isLoopback(url.hostname)) {
        errors.server = 'Use https:// for a server that is not on this machine: the token would travel in clear text.';
      } else {
        settings.server = `${url.origin}${url.pathname}`.replace(/\/+$/, '');
      }
    }
  }

  if (!settings.token) {
    errors.token = 'Paste the API token your tact admin gave you.';
  } else if (/^bearer\s/i.test(settings.token)) {
    errors.token = 'Paste the token alone, without the word "Bearer".';
  } else if (/\s/.test(settings.token)) {
    errors.token = 'The token has spaces or line breaks in it: paste it again, without the surrounding text.';
  }

  if (!settings.brand) {
    errors.brand = 'Enter the brand id drafts are for, e.g. northwind.';
  } else if (!ID.test(settings.brand)) {
    errors.brand = `"${settings.brand}" is not a brand id: lower-case letters, digits, "-" and "_" only (the id, not the display name).`;
  }

  if (!settings.channel) {
    errors.channel = 'Enter the channel replies go out on, e.g. x, instagram, email or forum.';
  } else if (!ID.test(settings.channel)) {
    errors.channel = `"${settings.channel}" is not a channel id: lower-case letters, digits, "-" and "_" only, e.g. x or email.`;
  }

  return { settings, errors };
}

function isLoopback(hostname) {
  return hostname === 'localhost' || hostname === '[::1]' || /^127(\.\d{1,3}){3}$/.test(hostname);
}

export async function loadSettings() {
  const stored = (await chrome.storage.local.get(KEY))[KEY];
  return { ...EMPTY_SETTINGS, ...(stored ?? {}) };
}

export async function saveSettings(settings) {
  await chrome.storage.local.set({ [KEY]: settings });
}

/** True once every setting is there (the options page saves only valid settings). */
export function isConfigured(settings) {
  return Boolean(settings.server && settings.token && settings.brand && settings.channel);
}
