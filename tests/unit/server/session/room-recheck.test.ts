import { afterEach, describe, expect, it, vi } from 'vitest';
import type { Connection } from '../../../../src/lib/server/connection.js';
import type { RouteOptions } from '../../../../src/lib/server/options.js';
import type { Memberships } from '../../../../src/lib/server/rooms/memberships.js';
import { Route } from '../../../../src/lib/server/route.js';
import { recheckRooms } from '../../../../src/lib/server/session/room-recheck.js';

// recheckRooms on its own: which rooms go, what the client is told, and what a check that hangs,
// throws or is overtaken by new auth data does. Sockets and real rooms: token-refresh.test.ts.

/** A connection in `rooms`, recording what it is sent and what is reported of it. */
function connectionIn(rooms: string[], authData: unknown = { role: 'member' }) {
	const sent: unknown[] = [];
	const reported: unknown[] = [];
	const connection = {
		rooms: new Set(rooms),
		authData,
		isOpen: true,
		fail: (code: string, message: string, id?: number, details?: object) =>
			void sent.push({ ...details, code, message, id }),
		report: (error: unknown) => void reported.push(error)
	};
	return { connection, sent, reported };
}

/** Memberships that only take the room out of the connection's set, as the real one does first. */
const memberships = {
	leave: (connection: Connection<unknown>, room: string) => void connection.rooms.delete(room)
} as unknown as Memberships;

function routeWith(authorizeJoin: RouteOptions<unknown>['authorizeJoin']): Route {
	return new Route({ path: '/ws', heartbeat: 0, authorizeJoin });
}

const recheck = (connection: object, route: Route) =>
	recheckRooms(connection as Connection<unknown>, route, memberships);

afterEach(() => {
	vi.useRealTimers();
});

describe('recheckRooms', () => {
	it('leaves the refused rooms, telling the client forbidden without an id, and keeps the rest', async () => {
		const { connection, sent } = connectionIn(['team:a', 'team:b', 'lobby']);
		await recheck(
			connection,
			routeWith((_connection, room) => room == 'lobby')
		);
		expect([...connection.rooms]).toEqual(['lobby']);
		expect(sent).toEqual([
			{
				room: 'team:a',
				code: 'forbidden',
				message: 'No longer allowed in "team:a"',
				id: undefined
			},
			{ room: 'team:b', code: 'forbidden', message: 'No longer allowed in "team:b"', id: undefined }
		]);
	});

	it('keeps a room whose check throws, rejects or hangs past 5 s, and reports each', async () => {
		vi.useFakeTimers();
		const { connection, sent, reported } = connectionIn(['throws', 'rejects', 'hangs', 'no']);
		const done = recheck(
			connection,
			routeWith((_connection, room) => {
				if (room == 'throws') throw new Error('threw');
				if (room == 'rejects') return Promise.reject(new Error('rejected'));
				if (room == 'hangs') return new Promise<boolean>(() => {});
				return false;
			})
		);
		await vi.advanceTimersByTimeAsync(5_000);
		await done;
		expect([...connection.rooms]).toEqual(['throws', 'rejects', 'hangs']);
		expect(sent).toHaveLength(1);
		expect(reported.map((error) => (error as Error).name)).toEqual([
			'Error',
			'Error',
			'DeadlineError'
		]);
	});

	it('asks again when the auth data changed while the check decided', async () => {
		const { connection, sent } = connectionIn(['team:a'], { role: 'admin' });
		const asked: unknown[] = [];
		await recheck(
			connection,
			routeWith((checked) => {
				asked.push(checked.authData);
				// The first check sees the old data, and a refresh lands while it decides.
				if (asked.length == 1) connection.authData = { role: 'guest' };
				return (checked.authData as { role: string }).role == 'admin';
			})
		);
		expect(asked).toEqual([{ role: 'admin' }, { role: 'guest' }]);
		expect([...connection.rooms]).toEqual([]);
		expect(sent).toHaveLength(1);
	});

	it('tells the client once when two checks run side by side', async () => {
		const { connection, sent } = connectionIn(['team:a']);
		const route = routeWith(() => Promise.resolve(false));
		await Promise.all([recheck(connection, route), recheck(connection, route)]);
		expect(sent).toHaveLength(1);
	});

	it('does nothing on a route without authorizeJoin, or for a closed connection', async () => {
		const open = connectionIn(['a']);
		await recheck(open.connection, routeWith(undefined));
		expect([...open.connection.rooms]).toEqual(['a']);
		const closed = connectionIn(['a']);
		closed.connection.isOpen = false;
		await recheck(
			closed.connection,
			routeWith(() => false)
		);
		expect([...closed.connection.rooms]).toEqual(['a']);
	});
});
