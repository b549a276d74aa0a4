// CPU time by process group, from /proc: on two cores the browser, the server, Redis and the
// publisher take turns, and a page's frame rate means little without knowing who had the CPU.
import { readdirSync, readFileSync } from 'node:fs';

/** Linux reports a process's CPU time in clock ticks of 1/100 s (`getconf CLK_TCK`). */
const MICROS_PER_TICK = 10_000;

interface ProcessTimes {
	ppid: number;
	micros: number;
}

/** Every running process's parent and CPU time so far (user + system), by pid. */
function processTable(): Map<number, ProcessTimes> {
	const table = new Map<number, ProcessTimes>();
	for (const entry of readdirSync('/proc')) {
		if (!/^\d+$/.test(entry)) continue;
		try {
			const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
			// Fields after the ")" that ends the command name: state is field 3, ppid 4, utime 14, stime 15.
			const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
			table.set(Number(entry), {
				ppid: Number(fields[1]),
				micros: (Number(fields[11]) + Number(fields[12])) * MICROS_PER_TICK
			});
		} catch {
			// It exited while the table was read.
		}
	}
	return table;
}

function descendants(table: Map<number, ProcessTimes>, root: number): Set<number> {
	const found = new Set([root]);
	let grew = true;
	while (grew) {
		grew = false;
		for (const [pid, { ppid }] of table) {
			if (!found.has(pid) && found.has(ppid)) {
				found.add(pid);
				grew = true;
			}
		}
	}
	return found;
}

/**
 * CPU microseconds used so far by each named process and its children; `rest` is every other
 * descendant of this process (here: Chromium's processes). This process itself is `bench`.
 * Only processes still running count, so a group's figure is meant for differences over a window
 * in which it kept its processes.
 *
 * @example
 * const before = cpuByGroup({ server: server.process.pid! });
 * // … later: after.server - before.server
 */
export function cpuByGroup(groups: Record<string, number>): Record<string, number> {
	const table = processTable();
	const claimed = new Set([process.pid]);
	const totals: Record<string, number> = {};
	for (const [name, root] of Object.entries(groups)) {
		let micros = 0;
		for (const pid of descendants(table, root)) {
			claimed.add(pid);
			micros += table.get(pid)?.micros ?? 0;
		}
		totals[name] = micros;
	}
	let rest = 0;
	for (const pid of descendants(table, process.pid)) {
		if (!claimed.has(pid)) rest += table.get(pid)?.micros ?? 0;
	}
	totals.rest = rest;
	totals.bench = table.get(process.pid)?.micros ?? 0;
	return totals;
}
