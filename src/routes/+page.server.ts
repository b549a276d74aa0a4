import { fail, redirect } from '@sveltejs/kit';
import { dashboard, sessions, signOut } from '$demo/realtime';
import {
	DEMO_FULL,
	isProject,
	MAX_OPEN_INCIDENTS,
	PROJECTS,
	type IncidentRefusal
} from '$demo/dashboard';
import { MAX_UPDATE_LENGTH } from '$demo/messages';
import { Severity } from '$demo/shapes';
import { slug, type DemoUser } from '$demo/session';
import { newTeamRefusal } from '$demo/team-quota';
import { invisibleTextRefusal, visibleText } from '$demo/text';
import { SESSION_COOKIE, setSessionCookie } from './session-cookie';
import type { Actions, PageServerLoad, RequestEvent } from './$types';
import dashboardScript from './dashboard-island.ts?island';

// No SvelteKit client on this page (its router alone is ~12 KB gzip): the server renders it, and
// the dashboard alone is hydrated by its own script (`island`, see dashboard-island.ts). Every form
// works as a plain POST; with JavaScript, ./components/enhance.ts sends them with fetch instead.
export const csr = false;

/** What a person is told when the incident changed under them (someone else was faster). */
const REFUSALS: Record<IncidentRefusal, string> = {
	'not-found': 'That incident is no longer on the dashboard.',
	resolved: 'That incident is already resolved.',
	acknowledged: 'Someone is already on that incident.',
	full: 'That timeline is full: resolve the incident, or open a new one.'
};

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
async function admission(
	account: string,
	event: Pick<RequestEvent, 'getClientAddress'>
): Promise<{ status: 429 | 503; message: string } | undefined> {
	const from = event.getClientAddress();
	if (await dashboard.admit(account, from)) return undefined;
	const wait = dashboard.newTeamWait(from);
	return wait > 0
		? { status: 429, message: newTeamRefusal(wait) }
		: { status: 503, message: DEMO_FULL };
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
		const title = visibleText(String(form.get('title') ?? ''));
		const severity = Severity.safeParse(form.get('severity'));
		const project = String(form.get('project') ?? '');
		if (title === undefined) return fail(400, { create: invisibleTextRefusal('title') });
		if (!title || title.length > 120)
			return fail(400, { create: 'A title of 1 to 120 characters.' });
		if (!severity.success) return fail(400, { create: 'Pick a severity.' });
		if (!isProject(project)) return fail(400, { create: 'Pick a project.' });
		const incident = await dashboard.openIncident(user, {
			title,
			severity: severity.data,
			project
		});
		if (!incident)
			return fail(409, {
				create: `${MAX_OPEN_INCIDENTS} incidents are open: resolve some before opening more.`
			});
		return { created: incident.uuid };
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
		const text = visibleText(String(form.get('text') ?? ''));
		if (text === undefined) return fail(400, { update: invisibleTextRefusal('update') });
		if (!text || text.length > MAX_UPDATE_LENGTH)
			return fail(400, { update: `An update of 1 to ${MAX_UPDATE_LENGTH} characters.` });
		const result = await dashboard.updateIncident(user, uuid, text);
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
