// Where a contender's memory per idle connection goes: heap snapshots of its server before and after
// N connections, grouped by constructor, the difference divided by N.
// `npx tsx bench/connections/profile.ts [--contender 'runesocket memory'] [--connections 1000] [--top 40]`
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Child } from '../child.js';
import { connectionContenderNamed } from './contenders.js';
import type { ClientCommand, ClientReport, ServerCommand, ServerReport } from './messages.js';

interface HeapSnapshot {
	snapshot: { meta: { node_fields: string[]; node_types: [string[]] } };
	nodes: number[];
	strings: string[];
}

/** Objects of one kind in a snapshot: how many, and their own bytes. */
interface Tally {
	count: number;
	bytes: number;
}

/** Tallies a snapshot's nodes by type and name (a constructor, `(closure) name`, a string…). */
function tallySnapshot(file: string): Map<string, Tally> {
	const snapshot = JSON.parse(readFileSync(file, 'utf8')) as HeapSnapshot;
	const fields = snapshot.snapshot.meta.node_fields;
	const types = snapshot.snapshot.meta.node_types[0];
	const [typeAt, nameAt, sizeAt] = ['type', 'name', 'self_size'].map((f) => fields.indexOf(f));
	const tallies = new Map<string, Tally>();
	for (let at = 0; at < snapshot.nodes.length; at += fields.length) {
		const type = types[snapshot.nodes[at + typeAt]];
		const name =
			type == 'string' || type == 'number' ? '' : snapshot.strings[snapshot.nodes[at + nameAt]];
		const key = `${type} ${name.slice(0, 60)}`;
		const tally = tallies.get(key) ?? { count: 0, bytes: 0 };
		tally.count++;
		tally.bytes += snapshot.nodes[at + sizeAt];
		tallies.set(key, tally);
	}
	return tallies;
}

const { values } = parseArgs({
	options: {
		contender: { type: 'string', default: 'runesocket memory' },
		connections: { type: 'string', default: '1000' },
		top: { type: 'string', default: '40' }
	}
});
const contender = connectionContenderNamed(values.contender);
const count = Number(values.connections);
const directory = mkdtempSync(join(tmpdir(), 'connections-profile-'));
const server = new Child<ServerCommand, ServerReport>(
	new URL('./server-process.ts', import.meta.url),
	[contender.name],
	['--expose-gc']
);
const clients = new Child<ClientCommand, ClientReport>(
	new URL('./client-process.ts', import.meta.url),
	[]
);
try {
	const [{ port }] = await Promise.all([
		server.next('listening', 30_000),
		clients.next('ready', 30_000)
	]);
	const batch = { protocol: contender.protocol, port, concurrency: 50, rooms: count / 20 };
	const snapshot = async (name: string): Promise<Map<string, Tally>> => {
		server.send({ type: 'measure' }); // collects garbage first
		await server.next('measured', 30_000);
		const file = join(directory, name);
		server.send({ type: 'snapshot', file });
		await server.next('snapshotted', 120_000);
		return tallySnapshot(file);
	};
	clients.send({ type: 'connect', batch: { ...batch, count: 100 } });
	await clients.next('connected', 60_000);
	clients.send({ type: 'disconnect' });
	await clients.next('disconnected', 60_000);
	const before = await snapshot('before.heapsnapshot');
	clients.send({ type: 'connect', batch: { ...batch, count } });
	await clients.next('connected', 120_000);
	const after = await snapshot('after.heapsnapshot');
	const rows = [...after].map(([key, { count: n, bytes }]) => {
		const was = before.get(key) ?? { count: 0, bytes: 0 };
		return { key, count: (n - was.count) / count, bytes: (bytes - was.bytes) / count };
	});
	rows.sort((a, b) => b.bytes - a.bytes);
	const total = rows.reduce((sum, row) => sum + row.bytes, 0);
	console.log(
		`${contender.name}: ${total.toFixed(0)} heap bytes per connection (${count} connections)\n`
	);
	console.log('| bytes/conn | objects/conn | type and name |\n| --- | --- | --- |');
	for (const row of rows.slice(0, Number(values.top))) {
		console.log(`| ${row.bytes.toFixed(0)} | ${row.count.toFixed(2)} | ${row.key} |`);
	}
} finally {
	await clients.stop({ type: 'stop' });
	await server.stop({ type: 'stop' });
	rmSync(directory, { recursive: true, force: true });
}
