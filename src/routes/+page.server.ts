import { fail, redirect } from '@sveltejs/kit';
import { dashboard, sessions, signOut } from '$demo/realtime';
import { checkNewIncident, checkUpdate, REFUSALS } from '$demo/incident-rules';
import { PROJECTS } from '$demo/projects';
import { slug, type DemoUser } from '$demo/session';
import { invisibleTextRefusal, visibleText } from '$demo/text';
import { SESSION_COOKIE, setSessionCookie } from './session-cookie';
import type { Actions, PageServerLoad, RequestEvent } from './$types';
import dashboardScript from './dashboard-island.ts?island';

// No SvelteKit client on this page (its router alone is ~12 KB gzip): the server renders it, and
// the dashboard alone is hydrated by its own script (`island`, see dashboard-island.ts). Every form
// works as a plain POST; with JavaScript, the incident forms go through the socket instead
// (./components/incident-actions.svelte.ts, answered by $demo/incident-requests with the same rules).
export const csr = false;

/** The user of the request's session, if it is live: signed here, not expired, not signed out. */
async function currentUser({ cookies }: RequestEvent): Promise<DemoUser | undefined> {
	const { session } = await sessions.verify(cookies.get(SESSION_COOKIE));
	return session && { name: session.name, account: session.account };
}

/**
 * Opens `account` for a request: `undefined` when it may, else the status and words of the refusal.
 * A new team counts against the client's address (adapter-node's: behind a proxy, set ADDRESS_HEADER
 * and XFF_DEPTH, or every client shares the proxy's address and its quota).
 */
function admission(account: string, event: Pick<RequestEvent, 'getClientAddress'>) {
	return dashboard.admission(account, event.getClientAddress());
}

export const load: PageServerLoad = async (event) => {
	const { cookies, url } = event;
	const cookie = cookies.get(SESSION_COOKIE);
	const { session, refusal } = await sessions.verify(cookie);
	if (!session) {
		if (cookie) cookies.delete(SESSION_COOKIE, { path: '/', secure: url.protocol == 'https:' });
		return { user: null, notice: refusal == 'expired' ? SESSION_EXPIRED : undefined };
	}
	const user = { name: session.name, account: session.account };
	// A session may outlive its account (expired while idle): it comes back, unless the demo is full.
	const refused = await admission(user.account, event);
	if (refused) return { user: null, notice: refused.message };
	// Every load renews the session: it ends a lifetime after its last page or socket refresh.
	const { token, expiresAt } = sessions.issue(user, session.sid);
	setSessionCookie(event, token, sessions.lifetime);
	const snapshot = await dashboard.snapshot(user.account);
	return {
		user,
		token,
		expiresAt,
		projects: Object.keys(PROJECTS),
		...snapshot,
		island: dashboardScript
	};
};

/** What the sign-in page says to someone whose session ran out unused. */
const SESSION_EXPIRED = 'Your session expired: sign in again.';

export const actions: Actions = {
	signin: async (event) => {
		const { request } = event;
		const form = await request.formData();
		const name = visibleText(String(form.get('name') ?? ''));
		const team = String(form.get('team') ?? '').trim() || 'acme';
		if (name === undefined) return fail(400, { signin: invisibleTextRefusal('name') });
		if (!name || name.length > 40)
			return fail(400, { signin: 'Enter a name of up to 40 characters.' });
		const account = slug(team);
		const refused = await admission(account, event);
		if (refused) return fail(refused.status, { signin: refused.message });
		setSessionCookie(event, sessions.issue({ name, account }).token, sessions.lifetime);
		redirect(303, '/');
	},

	signout: async ({ cookies, url }) => {
		// Revoked, not only forgotten by this browser: a copy of the cookie, another tab's socket or
		// a page on another process must not go on working.
		await signOut(cookies.get(SESSION_COOKIE));
		// The same `secure` as the sign-in: Kit's default makes the delete Secure, which a browser on
		// plain http (e.g. http://0.0.0.0:3000) ignores, so the session stayed.
		cookies.delete(SESSION_COOKIE, { path: '/', secure: url.protocol == 'https:' });
		redirect(303, '/');
	},

	create: async (event) => {
		const user = await currentUser(event);
		if (!user) return fail(401, { create: 'Sign in first.' });
		const refused = await admission(user.account, event);
		if (refused) return fail(refused.status, { create: refused.message });
		const form = await event.request.formData();
		const field = (name: string) => String(form.get(name) ?? '');
		const checked = checkNewIncident({
			title: field('title'),
			severity: field('severity'),
			project: field('project')
		});
		if (checked.refusal !== undefined) return fail(400, { create: checked.refusal });
		const result = await dashboard.openIncident(user, checked.value);
		if (typeof result != 'object') return fail(409, { create: REFUSALS[result] });
		return { created: result.uuid };
	},

	acknowledge: async (event) => {
		const user = await currentUser(event);
		if (!user) return fail(401, { acknowledge: 'Sign in first.' });
		const uuid = String((await event.request.formData()).get('uuid') ?? '');
		const result = await dashboard.acknowledgeIncident(user, uuid);
		if (typeof result != 'object') return fail(409, { acknowledge: REFUSALS[result] });
		return { acknowledged: uuid };
	},

	update: async (event) => {
		const user = await currentUser(event);
		if (!user) return fail(401, { update: 'Sign in first.' });
		const form = await event.request.formData();
		const uuid = String(form.get('uuid') ?? '');
		const text = checkUpdate(String(form.get('text') ?? ''));
		if (text.refusal !== undefined) return fail(400, { update: text.refusal });
		const result = await dashboard.updateIncident(user, uuid, text.value);
		if (typeof result != 'object') return fail(409, { update: REFUSALS[result] });
		return { updated: uuid };
	},

	resolve: async (event) => {
		const user = await currentUser(event);
		if (!user) return fail(401, { resolve: 'Sign in first.' });
		const uuid = String((await event.request.formData()).get('uuid') ?? '');
		const result = await dashboard.resolveIncident(user, uuid);
		if (typeof result != 'object') return fail(409, { resolve: REFUSALS[result] });
		return { resolved: uuid };
	}
};
