// Sign in: check a pasted token against /api/v1/me, keep it in this tab, go back where we were.
import { ApiError, get, session } from './api.js';
import { byId } from './dom.js';

const form = byId('sign-in-form');
const input = byId('token');
const error = byId('sign-in-error');

const notice = session.takeNotice();
if (notice) error.textContent = notice;

/** Only a path on this site: never an absolute or protocol-relative URL. */
function nextPage() {
  const next = new URLSearchParams(location.search).get('next');
  if (!next || !next.startsWith('/')) return '/';
  // Resolved as the browser will resolve it (tabs and newlines dropped, backslashes as
  // slashes), so `/\t/evil.example` cannot leave this origin.
  let url;
  try {
    url = new URL(next, location.origin);
  } catch {
    return '/';
  }
  return url.origin === location.origin ? `${url.pathname}${url.search}${url.hash}` : '/';
}

form.addEventListener('submit', async (event) => {
  event.preventDefault();
  const token = input.value.trim();
  error.textContent = '';
  input.removeAttribute('aria-invalid');
  if (!token) {
    error.textContent = 'Paste a token first.';
    input.setAttribute('aria-invalid', 'true');
    input.focus();
    return;
  }
  const button = form.querySelector('button[type=submit]');
  button.disabled = true;
  try {
    await get('/me', { token });
    session.signIn(token);
    location.assign(nextPage());
  } catch (err) {
    input.setAttribute('aria-invalid', 'true');
    error.textContent = err instanceof ApiError && err.status === 401
      ? `That token was not accepted: ${err.message} Check that it was copied whole and has not been revoked.`
      : `Could not sign in: ${err.message}`;
    input.select();
  } finally {
    button.disabled = false;
  }
});

input.focus();
