import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { PresenceEntry } from '../../../../src/lib/protocol/presence.js';
import {
	expectedBack,
	PresenceGraces,
	type GraceEngine
} from '../../../../src/lib/server/rooms/presence-grace.js';
import type { Connection } from '../../../../src/lib/server/index.js';

const ROOM = 'room';

/** The parts of a connection the graces use: its id, and where its failures are reported. */
const connection = (id: string) =>
	({ id, report: vi.fn() }) as Pick<Connection<unknown>, 'id' | 'report'> as Connection<unknown>;

/** An engine presence that records what the graces do, with `members` as the test sets them. */
function engine(members: Record<string, PresenceEntry> | Error, withExpiry = true) {
	const untracked: string[] = [];
	const expiring: string[] = [];
	const presence: GraceEngine = {
		untrack: async (_name, { id }) => void untracked.push(id),
		members: async () => {
			if (members instanceof Error) throw members;
			return members;
		},
		expireAfterClose: withExpiry ? (_name, id) => void expiring.push(id) : undefined
	};
	return { presence, untracked, expiring };
}

const present = (connections: number): PresenceEntry => ({ data: null, connections });

describe('expectedBack: whose presence a close keeps for the grace', () => {
	it.each([
		[undefined, 1000, false, 'the client closed'],
		[undefined, 1001, false, 'the page went away'],
		[undefined, 1006, true, 'the connection dropped'],
		[undefined, 4000, true, 'the client closed with its own code'],
		[1001, 1001, true, 'the server shut down (a deploy)'],
		[1013, 1013, true, 'a slow consumer'],
		[4001, 4001, true, 'an expired token'],
		[1012, 1000, true, 'a server restart the peer answered with 1000'],
		[1008, 1008, false, 'a policy violation: the client stops'],
		[4004, 4004, false, 'a revoked session: the client stops']
	] as const)('decided %s, closed %s → %s (%s)', (decided, code, back, _why) => {
		expect(expectedBack(decided, code)).toBe(back);
	});
});

describe('PresenceGraces', () => {
	beforeEach(() => {
		vi.useFakeTimers();
	});
	afterEach(() => {
		vi.useRealTimers();
	});

	it('untracks when the grace ends, and not before', async () => {
		const { presence, untracked } = engine({});
		const graces = new PresenceGraces(presence);
		graces.keep(ROOM, connection('a1'), 'ada', 1_000);
		await vi.advanceTimersByTimeAsync(999);
		expect(untracked).toEqual([]);
		await vi.advanceTimersByTimeAsync(1);
		expect(untracked).toEqual(['a1']);
	});

	it('ends one grace of a user who is back, the others keep theirs', async () => {
		const { presence, untracked } = engine({});
		const graces = new PresenceGraces(presence);
		graces.keep(ROOM, connection('a1'), 'ada', 1_000);
		graces.keep(ROOM, connection('a2'), 'ada', 1_000);
		graces.keep(ROOM, connection('b1'), 'bob', 1_000);
		await graces.returned(ROOM, 'ada');
		await graces.returned('elsewhere', 'bob');
		expect(untracked).toEqual(['a1']);
		await vi.advanceTimersByTimeAsync(1_000);
		expect(untracked.sort()).toEqual(['a1', 'a2', 'b1']);
	});

	it('at close, hands the engine only the users others see and who are not back', async () => {
		// Obs watches (on another process); Ada is back elsewhere; Bob is not.
		const members = { obs: present(1), ada: present(2), bob: present(1) };
		const { presence, untracked, expiring } = engine(members);
		const graces = new PresenceGraces(presence);
		graces.keep(ROOM, connection('a1'), 'ada', 60_000);
		graces.keep(ROOM, connection('b1'), 'bob', 60_000);
		await graces.close();
		expect({ untracked, expiring }).toEqual({ untracked: ['a1'], expiring: ['b1'] });
		await vi.advanceTimersByTimeAsync(60_000);
		expect(untracked).toEqual(['a1']);
	});

	it.each([
		['nobody else is in the room', { ada: present(1), bob: present(1) }, true],
		['the room cannot be read', new Error('Redis is down'), true],
		['the engine keeps no presence after it closed', { obs: present(1), ada: present(1) }, false]
	] as const)('at close, untracks every grace when %s', async (_, members, withExpiry) => {
		const { presence, untracked, expiring } = engine(members, withExpiry);
		const graces = new PresenceGraces(presence);
		graces.keep(ROOM, connection('a1'), 'ada', 60_000);
		graces.keep(ROOM, connection('b1'), 'bob', 60_000);
		await graces.close();
		expect(untracked.sort()).toEqual(['a1', 'b1']);
		expect(expiring).toEqual([]);
	});
});
