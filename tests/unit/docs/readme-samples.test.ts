import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
	headingAnchors,
	linkProblems,
	linkTargets,
	REPOSITORY_FILES
} from '../../kit/docs/doc-links.js';
import {
	checkSamples,
	extractSamples,
	FRAGMENT_MARK,
	type DocSample,
	type SampleProblem
} from '../../kit/docs/doc-samples.js';
import {
	jsdocExamples,
	type JsdocExamples,
	type PackageEntry
} from '../../kit/docs/jsdoc-examples.js';

// README's code samples are compiled the way `npm run check` compiles the project: strict
// TypeScript, and svelte-check with --fail-on-warnings for the Svelte sample. Each sample imports
// what it uses from the library; the names that stand for the reader's own app (a token getter,
// their session store, their message definitions, the `client` the API tour builds on) come from
// the context below, written beside the samples. Compiling cannot tell whether a field the samples
// read (`message.timestamp`) is on the message they read it from: tests/integration/doc-wire.test.ts
// checks the fields README's samples and PROTOCOL.md name against frames a real server writes.

const ROOT = fileURLToPath(new URL('../../..', import.meta.url));
const DOCS = ['README.md', 'PROTOCOL.md'];

/** The reader's message definitions, as README's samples import them ('./messages', '$lib/messages'). */
const APP_MESSAGES = `import { ClientMessage } from 'runesocket';
import { z } from 'zod';

const Severity = z.enum(['critical', 'warning', 'info']);
export const IncidentCreated = ClientMessage.define(
	'incident.created',
	z.object({ uuid: z.string(), title: z.string(), severity: Severity, accountId: z.string() })
);
export const IncidentResolved = ClientMessage.define('incident.resolved', z.object({ uuid: z.string() }));
export const CreateIncident = ClientMessage.define('incident.create', z.object({ title: z.string() }));
export const MonitorChanged = ClientMessage.define(
	'monitor.changed',
	z.object({ uuid: z.string(), status: z.enum(['up', 'down']) })
);
export const ActivityLogged = ClientMessage.define('activity.logged', z.object({ text: z.string() }));
export const Announcement = ClientMessage.define('announcement', z.object({ text: z.string() }));
export const Chat = ClientMessage.define('chat', z.object({ text: z.string() }));
export const Welcome = ClientMessage.define('welcome', z.object({ name: z.string() }));
export const Maintenance = ClientMessage.define('maintenance', z.object({ at: z.number() }));
export const IncidentChanged = ClientMessage.define(
	'incident.changed',
	z.object({ uuid: z.string(), title: z.string(), status: z.enum(['open', 'acknowledged', 'resolved']) })
);
export const AckIncident = ClientMessage.define('incident.ack', z.object({ uuid: z.string() }));
export const Typing = ClientMessage.define('typing', z.object({ user: z.string() }));
`;

/** What the samples take from the app around them, declared as the README's prose describes it. */
const APP_GLOBALS = `type AppIncident = import('runesocket').MessageData<typeof import('./messages').IncidentCreated>;
declare function refreshToken(): Promise<string>;
declare function currentToken(): string;
declare function refetchEverything(): void;
declare function showSignIn(code: number): void;
declare function reload(room: string): void;
declare let badge: string;
declare const client: import('runesocket').SocketClient;
declare const sockets: import('runesocket/server').SocketServer;
declare const url: string;
declare const token: string;
declare const jwt: string;
declare const accessToken: string;
declare const data: { positions: Record<string, import('runesocket').StreamPosition> };
declare const app: import('node:http').RequestListener;
interface User { id: string; name: string; accountId: string }
declare const sessions: { find(token: string | undefined): Promise<User | undefined> };
declare const incidents: { create(data: { title: string }): Promise<AppIncident> };
declare const incident: AppIncident;
declare const activity: { text: string };
declare const monitor: { uuid: string; status: 'up' | 'down' };
declare const members: import('runesocket').PresenceMembers<{ name: string }>;
declare let avatars: string[];
declare const session: { accessToken: string };
declare const connection: import('runesocket/server').Connection<User>;
declare const publisher: import('runesocket/redis').RedisPublisher;
declare const engine: import('runesocket/redis').RedisEngine;
declare const httpServer: import('node:http').Server;
declare const response: import('node:http').ServerResponse;
declare function verify(token: string | undefined): Promise<User | undefined>;
declare function getToken(): Promise<string>;
declare const user: User;
declare const claims: { sub: string; name: string; account: string; exp: number };
declare function verifyJwt(token: string): Promise<typeof claims | undefined>;
declare function canSee(user: User, room: string): boolean;
declare function refetch(): void;
declare function reloadRoom(room: string): void;
declare function showOfflineBanner(code: number, reason: string): void;
declare function showRetryButton(attempts: number): void;
declare function slowDown(): void;
// The JSDoc examples name the app's message definitions without importing them.
declare const IncidentCreated: typeof import('./messages').IncidentCreated;
declare const CreateIncident: typeof import('./messages').CreateIncident;
declare const MonitorChanged: typeof import('./messages').MonitorChanged;
declare const ActivityLogged: typeof import('./messages').ActivityLogged;
declare const Announcement: typeof import('./messages').Announcement;
declare const Chat: typeof import('./messages').Chat;
declare const Welcome: typeof import('./messages').Welcome;
declare const Maintenance: typeof import('./messages').Maintenance;
declare const AckIncident: typeof import('./messages').AckIncident;
declare const Typing: typeof import('./messages').Typing;
declare const uuid: string;
declare function toast(text: string): void;
`;

// The project's own aliases (as svelte.config.js gives them to svelte-check), and `$lib` as the
// reader's app has it: the directory beside the samples.
const SAMPLE_PATHS = {
	runesocket: [join(ROOT, 'src/lib')],
	'runesocket/*': [join(ROOT, 'src/lib/*')],
	'$lib/*': ['./lib/*']
};

// Compiled in the same run as the documents, to show the check catches what it must: a misspelt
// route option (excess property), a wrong import, and README's Svelte sample as it was before
// (state_referenced_locally); the fragment is broken too, and marked, so it must be left out.
const BROKEN_DOC = [
	'# broken',
	'',
	'```ts',
	"import { defineRoute } from 'runesocket/server';",
	'',
	"defineRoute({ path: '/ws', rateLimits: { messagesPerSecond: 10 } });",
	'```',
	'',
	'```ts',
	"import { SocketClientt } from 'runesocket';",
	'```',
	'',
	'```svelte',
	'<script lang="ts">',
	"\timport { LiveSocket } from 'runesocket/svelte';",
	'',
	'\tlet { data } = $props();',
	"\tconst socket = new LiveSocket('/ws');",
	'\tsocket.joinRoom(`account:${data.account}`);',
	'</script>',
	'```',
	'',
	FRAGMENT_MARK,
	'',
	'```ts',
	'client.emit(…);',
	'```'
].join('\n');

let directory: string;
let samples: DocSample[];
let examples: JsdocExamples;
let problems: SampleProblem[];

/** The package's entries, from package.json's `exports`: `.` and `./server` → src/lib/…/index.ts. */
async function packageEntries(): Promise<PackageEntry[]> {
	const manifest = JSON.parse(await readFile(join(ROOT, 'package.json'), 'utf8')) as {
		exports: Record<string, unknown>;
	};
	return Object.keys(manifest.exports).map((key) => ({
		specifier: key == '.' ? 'runesocket' : `runesocket/${key.slice(2)}`,
		file: join(ROOT, 'src/lib', key.slice(2), 'index.ts')
	}));
}

beforeAll(async () => {
	samples = (
		await Promise.all(
			DOCS.map(async (doc) => extractSamples(await readFile(join(ROOT, doc), 'utf8'), doc))
		)
	).flat();
	// Inside the project (its node_modules and types resolve from there); .svelte-kit is ignored by
	// git, the linters and the project's own check.
	await mkdir(join(ROOT, '.svelte-kit'), { recursive: true });
	directory = await mkdtemp(join(ROOT, '.svelte-kit/doc-samples-'));
	examples = jsdocExamples(await packageEntries(), ROOT);
	const broken = extractSamples(BROKEN_DOC, 'broken.md');
	problems = await checkSamples([...samples, ...examples.samples, ...broken], {
		root: ROOT,
		directory,
		paths: SAMPLE_PATHS,
		context: {
			'messages.ts': APP_MESSAGES,
			'lib/messages.ts': "export * from '../messages';\n",
			'app.d.ts': APP_GLOBALS
		}
	});
}, 90_000);

afterAll(async () => {
	if (directory) await rm(directory, { recursive: true, force: true });
});

const problemsOf = (doc: string) => problems.filter(({ where }) => where.startsWith(`${doc}:`));

describe('documentation samples', () => {
	it('are found, the Svelte one and those indented in lists included', () => {
		const readme = samples.filter((sample) => sample.doc == 'README.md');
		expect(readme.length).toBeGreaterThan(10);
		expect(readme.some((sample) => sample.language == 'svelte')).toBe(true);
		expect(readme.some((sample) => sample.code.startsWith('import { RedisPublisher }'))).toBe(true);
	});

	it.each(DOCS)(
		'%s: every sample compiles (strict TypeScript, svelte-check --fail-on-warnings)',
		(doc) => {
			expect(problemsOf(doc)).toEqual([]);
		}
	);

	it('every @example of an exported symbol compiles, in the same program as the documents', () => {
		expect(examples.samples.length).toBeGreaterThan(40);
		expect(problems.filter(({ where }) => where.startsWith('src/'))).toEqual([]);
	});

	it('@example is written only on what an entry exports (internal code keeps its prose)', () => {
		expect(examples.sites.filter((site) => !site.exported)).toEqual([]);
	});

	it('the check reports broken samples at their lines, and leaves marked fragments out', () => {
		expect(
			problemsOf('broken.md')
				.map(({ where, code }) => `${where} ${code}`)
				.sort()
		).toEqual([
			'broken.md:10 TS2724',
			'broken.md:19 svelte(state_referenced_locally)',
			'broken.md:6 TS2561'
		]);
	});
});

describe('README links', () => {
	it('work on npmjs.com: absolute, or anchors of README; files and headings of the repository exist', async () => {
		const readme = await readFile(join(ROOT, 'README.md'), 'utf8');
		expect(linkTargets(readme).length).toBeGreaterThan(5);
		expect(linkProblems(readme, ROOT)).toEqual([]);
	});

	it('point into the repository package.json names, whose LICENSE exists', async () => {
		const manifest = JSON.parse(await readFile(join(ROOT, 'package.json'), 'utf8')) as {
			repository: { url: string };
			homepage: string;
			bugs: { url: string };
		};
		const repository = manifest.repository.url.replace(/^git\+/, '').replace(/\.git$/, '');
		expect(REPOSITORY_FILES[0]).toBe(`${repository}/blob/main/`);
		expect(manifest.homepage.startsWith(repository)).toBe(true);
		expect(manifest.bugs.url).toBe(`${repository}/issues`);
		expect(await readFile(join(ROOT, 'LICENSE'), 'utf8')).toMatch(/^MIT License/);
	});

	it('the check finds relative links, missing anchors, files and headings, and ignores code', () => {
		const repository = 'https://github.com/runesocket/runesocket/blob/main';
		const broken = [
			'# Top',
			'[a](PROTOCOL.md) [b](#top) [c](#nowhere) ![d](static/x.png)',
			`[e](${repository}/PROTOCOL.md#close-codes) [f](${repository}/PROTOCOL.md#no-such-heading)`,
			`[g](${repository}/MISSING.md) [h](https://example.com/elsewhere.md)`,
			'`[i](inline-code.md)`',
			'```ts',
			"const j = '[j](fenced-code.md)';",
			'```'
		].join('\n');
		expect(linkProblems(broken, ROOT)).toEqual([
			'PROTOCOL.md: relative, breaks on npmjs.com',
			'#nowhere: no such heading here',
			'static/x.png: relative, breaks on npmjs.com',
			`${repository}/PROTOCOL.md#no-such-heading: no such heading in PROTOCOL.md`,
			`${repository}/MISSING.md: no such file in the repository`
		]);
	});

	it('anchors are named as GitHub names them', () => {
		const anchors = headingAnchors(
			[
				'## Recovery: no message lost',
				'## The runes layer: `runesocket/svelte`',
				'## A & B',
				'## A & B'
			].join('\n')
		);
		expect([...anchors]).toEqual([
			'recovery-no-message-lost',
			'the-runes-layer-runesocketsvelte',
			'a--b',
			'a--b-1'
		]);
	});
});
