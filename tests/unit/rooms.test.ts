import { describe, expect, it } from 'vitest';
import { RoomRegistry } from '../../src/lib/client/rooms.js';

describe('RoomRegistry', () => {
	it('starts with no rooms', () => {
		expect([...new RoomRegistry().rooms]).toEqual([]);
	});

	it('reports true only for the first holder of a room', () => {
		const rooms = new RoomRegistry();
		expect(rooms.add('project:1')).toBe(true);
		expect(rooms.add('project:1')).toBe(false);
		expect(rooms.add('project:1')).toBe(false);
		expect(rooms.add('project:2')).toBe(true);
		expect([...rooms.rooms]).toEqual(['project:1', 'project:2']);
	});

	it('reports true only when the last holder leaves, and forgets the room then', () => {
		const rooms = new RoomRegistry();
		rooms.add('r');
		rooms.add('r');
		rooms.add('r');
		expect(rooms.remove('r')).toBe(false);
		expect(rooms.rooms.has('r')).toBe(true);
		expect(rooms.remove('r')).toBe(false);
		expect(rooms.rooms.has('r')).toBe(true);
		expect(rooms.remove('r')).toBe(true);
		expect(rooms.rooms.has('r')).toBe(false);
	});

	it('does not go below zero: removing an unheld room is false and does not owe a join', () => {
		const rooms = new RoomRegistry();
		expect(rooms.remove('never')).toBe(false);
		rooms.add('r');
		expect(rooms.remove('r')).toBe(true);
		expect(rooms.remove('r')).toBe(false);
		expect(rooms.remove('r')).toBe(false);
		// Extra removes did not leave a negative count behind: the next add is a first holder again.
		expect(rooms.add('r')).toBe(true);
		expect(rooms.remove('r')).toBe(true);
	});

	it('counts each room on its own', () => {
		const rooms = new RoomRegistry();
		rooms.add('a');
		rooms.add('a');
		rooms.add('b');
		expect(rooms.remove('b')).toBe(true);
		expect(rooms.remove('a')).toBe(false);
		expect([...rooms.rooms]).toEqual(['a']);
	});

	it('forgets every room and every count on clear', () => {
		const rooms = new RoomRegistry();
		rooms.add('a');
		rooms.add('a');
		rooms.add('b');
		rooms.clear();
		expect(rooms.rooms.size).toBe(0);
		expect(rooms.remove('a')).toBe(false);
		expect(rooms.add('a')).toBe(true);
		expect(rooms.remove('a')).toBe(true);
	});

	it('hands out a copy of the rooms: later changes do not show in it, and changing it changes nothing', () => {
		const rooms = new RoomRegistry();
		rooms.add('a');
		const snapshot = rooms.rooms;
		expect(rooms.rooms).not.toBe(snapshot);
		rooms.add('b');
		rooms.remove('a');
		expect([...snapshot]).toEqual(['a']);
		(snapshot as Set<string>).add('intruder');
		(snapshot as Set<string>).delete('a');
		expect([...rooms.rooms]).toEqual(['b']);
		expect(rooms.add('intruder')).toBe(true);
	});

	it('can be iterated while it changes (the copy is stable)', () => {
		const rooms = new RoomRegistry();
		for (const room of ['a', 'b', 'c']) rooms.add(room);
		const seen: string[] = [];
		for (const room of rooms.rooms) {
			seen.push(room);
			rooms.remove(room);
			rooms.add(`${room}!`);
		}
		expect(seen).toEqual(['a', 'b', 'c']);
		expect([...rooms.rooms]).toEqual(['a!', 'b!', 'c!']);
	});
});
