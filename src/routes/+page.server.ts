import { fail, redirect } from '@sveltejs/kit';
import { dashboard } from '$demo/realtime';
import { DEMO_FULL, MAX_OPEN_INCIDENTS, PROJECTS } from '$demo/dashboard';
import { Severity } from '$demo/schemas';
import { signSession, slug, verifySession } from '$demo/session';
import type { Actions, PageServerLoad, RequestEvent } from './$types';
import dashboardScript from './dashboard-island.ts?island';

// No SvelteKit client on this page (its router alone is ~12 KB gzip): the server renders it, and
// the dashboard alone is hydrated by its own script (`island`, see dashboard-island.ts). Every form
// works as a plain POST; with JavaScript, ./components/enhance.ts sends them with fetch instead.
export const csr = false;

const SESSION_COOKIE = 'runesocket_session';

function currentUser({ cookies }: RequestEvent) {
	return verifySession(cookies.get(SESSION_COOKIE));
}

export const load: PageServerLoad = async ({ cookies }) => {
	const token = cookies.get(SESSION_COOKIE);
	const user = verifySession(token);
	if (!user || !token) return { user: null };
	// A session may outlive its account (expired while idle): it comes back, unless the demo is full.
	if (!(await dashboard.admit(user.account))) return { user: null, notice: DEMO_FULL };
	const snapshot = await dashboard.snapshot(user.account);
	return { user, token, projects: Object.keys(PROJECTS), ...snapshot, island: dashboardScript };
};

export const actions: Actions = {
	signin: async ({ request, cookies, url }) => {
		const form = await request.formData();
		const name = String(form.get('name') ?? '').trim();
		const team = String(form.get('team') ?? '').trim() || 'acme';
		if (!name || name.length > 40)
			return fail(400, { signin: 'Enter a name of up to 40 characters.' });
		const account = slug(team);
		if (!(await dashboard.admit(account))) return fail(503, { signin: DEMO_FULL });
		const token = signSession({ name, account });
		cookies.set(SESSION_COOKIE, token, {
			path: '/',
			httpOnly: true,
			sameSite: 'lax',
			secure: url.protocol == 'https:',
			maxAge: 60 * 60 * 24 * 7
		});
		redirect(303, '/');
	},

	signout: async ({ cookies, url }) => {
		// The same `secure` as the sign-in: Kit's default makes the delete Secure, which a browser on
		// plain http (e.g. http://0.0.0.0:3000) ignores, so the session stayed.
		cookies.delete(SESSION_COOKIE, { path: '/', secure: url.protocol == 'https:' });
		redirect(303, '/');
	},

	create: async (event) => {
		const user = currentUser(event);
		if (!user) return fail(401, { create: 'Sign in first.' });
		if (!(await dashboard.admit(user.account))) return fail(503, { create: DEMO_FULL });
		const form = await event.request.formData();
		const title = String(form.get('title') ?? '').trim();
		const severity = Severity.safeParse(form.get('severity'));
		const project = String(form.get('project') ?? '');
		if (!title || title.length > 120)
			return fail(400, { create: 'A title of 1 to 120 characters.' });
		if (!severity.success) return fail(400, { create: 'Pick a severity.' });
		if (!(project in PROJECTS)) return fail(400, { create: 'Pick a project.' });
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

	resolve: async (event) => {
		const user = currentUser(event);
		if (!user) return fail(401, { resolve: 'Sign in first.' });
		const uuid = String((await event.request.formData()).get('uuid') ?? '');
		if (!(await dashboard.resolveIncident(user, uuid))) {
			return fail(404, { resolve: 'That incident is already resolved.' });
		}
		return { resolved: uuid };
	}
};
