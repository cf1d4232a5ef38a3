// What every signed-in page shares: the session header and the crisis banner.
import { ApiError, get, seg, session, toSignIn } from './api.js';
import { byId, h } from './dom.js';

/**
 * Resolves with `/api/v1/me` for the stored token, after filling the header. Without a token
 * it goes to the sign-in page (and never resolves).
 */
export async function signedIn() {
  if (!session.token()) {
    toSignIn();
    return new Promise(() => {});
  }
  const me = await get('/me');
  byId('whoami').textContent = `${me.label || me.token_id} · ${me.role}`;
  byId('session').hidden = false;
  byId('sign-out').addEventListener('click', () => {
    session.signOut();
    location.assign('/sign-in');
  });
  return me;
}

/** Shows which of `brands` are in crisis mode or have a spike, with a link to the crisis page. */
export async function crisisBanner(brands) {
  const banner = byId('crisis-banner');
  const states = await Promise.all(brands.map(async (brand) => {
    try {
      const crisis = await get(`/brands/${seg(brand.id)}/crisis`);
      return { brand, active: Boolean(crisis.active || brand.crisis_mode), spikes: crisis.summaries?.length ?? 0 };
    } catch {
      // The banner is advisory; the crisis page reports the error.
      return { brand, active: Boolean(brand.crisis_mode), spikes: 0 };
    }
  }));
  const active = states.filter((s) => s.active);
  banner.replaceChildren(...active.map(({ brand, spikes }) => h('p', {},
    h('strong', { text: `${brand.name ?? brand.id} is in crisis mode.` }),
    spikes ? ` ${spikes} ${spikes === 1 ? 'spike' : 'spikes'} detected; replies need extra approvals. ` : ' Replies need extra approvals. ',
    h('a', { href: `/crisis?brand=${seg(brand.id)}`, text: 'Open the crisis page' }))));
  banner.hidden = active.length === 0;
}

/** Writes an error for the reader into `el` (a role="alert" region). */
export function showError(el, err, doing) {
  let text;
  if (err instanceof ApiError) {
    text = err.status === 403
      ? `Your token is not allowed to ${doing}: ${err.message}`
      : `Could not ${doing}: ${err.message}`;
    if (err.retryAfter) text += ` Try again in ${err.retryAfter} s.`;
  } else {
    text = `Could not ${doing}: ${err?.message ?? err}`;
  }
  el.textContent = text;
}

/** A brand's display name from the `/brands` list. */
export function brandName(brands, id) {
  return brands.find((b) => b.id === id)?.name ?? id;
}
