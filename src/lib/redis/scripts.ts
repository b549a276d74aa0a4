import { createHash } from 'node:crypto';
import type { StreamPosition } from '../engine/engine.js';
import { isRecord } from '../protocol/envelope.js';
import type { RedisConnection } from './connections.js';

/**
 * A Lua script run by its SHA1 (`EVALSHA`), sent whole (`EVAL`) when Redis does not know it yet,
 * e.g. after a restart emptied its script cache. A `NOSCRIPT` answer means the script did not run,
 * so sending it again cannot run it twice.
 */
export interface LuaScript {
	readonly lua: string;
	readonly sha: string;
	readonly keys: number;
}

/** A script of `lua` taking `keys` keys, with its SHA1. */
export function script(lua: string, keys: number): LuaScript {
	return { lua, sha: createHash('sha1').update(lua).digest('hex'), keys };
}

/** Runs `lua` on `redis` with its keys and arguments. */
export async function runScript(
	redis: RedisConnection,
	lua: LuaScript,
	keys: readonly string[],
	args: readonly (string | number)[]
): Promise<unknown> {
	try {
		return await redis.evalsha(lua.sha, lua.keys, ...keys, ...args);
	} catch (error) {
		if (!isNoScript(error)) throw error;
		return await redis.eval(lua.lua, lua.keys, ...keys, ...args);
	}
}

// The time of the Redis server in ms, as stream ids count it.
// A message published at `t` is kept while now < t + ttl: ids from `now - ttl + 1` on.
const NOW = `local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)`;

/**
 * Publishes one or more object messages to a room, atomically, in the order given:
 * - takes the room's epoch, or creates it (ARGV[2], made by the caller) when the position key is
 *   missing, i.e. the room's history was lost or never existed: its stale history goes too, and
 *   the position keeps when the epoch was born (`born`, Redis ms), which tells whether a position
 *   read before the room's first publish is followed by this epoch (see `HISTORY_SCRIPT`);
 * - raises the room's offset by the number of messages: they get the next offsets, in order;
 * - splices `"offset":N,"epoch":"E"}` onto each message's JSON (its message head: the JSON without
 *   its closing brace, a comma already added when it has fields): a message is never decoded here,
 *   so cjson cannot mangle empty arrays or large numbers;
 * - XADDs each to the room's stream (MAXLEN ~ size), trims entries older than ttl (MINID ~), and
 *   lets the stream expire ttl after this publish; size or ttl 0 keeps no history;
 * - makes the position key live `retention` ms after this publish;
 * - PUBLISHes them all in one channel message: a JSON array of envelopes (each envelope head +
 *   message + '}'), so every subscribed process reads and parses the batch once.
 *
 * KEYS: position hash, history stream. ARGV: channel, new epoch, size, ttl ms, retention ms, then
 * per message its message head and its envelope head. Returns [first offset, epoch].
 */
function publishScript(publish: 'PUBLISH' | 'SPUBLISH'): LuaScript {
	return script(
		`${NOW}
local epoch = redis.call('HGET', KEYS[1], 'epoch')
if not epoch then
  epoch = ARGV[2]
  redis.call('DEL', KEYS[1], KEYS[2])
  redis.call('HSET', KEYS[1], 'epoch', epoch, 'born', string.format('%d', now))
end
local count = (#ARGV - 5) / 2
local last = redis.call('HINCRBY', KEYS[1], 'offset', count)
local first = last - count + 1
local size = tonumber(ARGV[3])
local ttl = tonumber(ARGV[4])
local keep = size > 0 and ttl > 0
local tail = ',"epoch":"' .. epoch .. '"}'
local envelopes = {}
for index = 1, count do
  local offset = string.format('%d', first + index - 1)
  local message = ARGV[4 + index * 2] .. '"offset":' .. offset .. tail
  if keep then
    redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[3], '*', 'offset', offset, 'message', message)
  end
  envelopes[index] = ARGV[5 + index * 2] .. message .. '}'
end
if keep then
  redis.call('XTRIM', KEYS[2], 'MINID', '~', string.format('%d', math.max(now - ttl + 1, 0)))
  redis.call('PEXPIRE', KEYS[2], ARGV[4])
else
  redis.call('DEL', KEYS[2])
end
redis.call('PEXPIRE', KEYS[1], ARGV[5])
redis.call('${publish}', ARGV[1], '[' .. table.concat(envelopes, ',') .. ']')
return {first, epoch}`,
		2
	);
}

/** The publish script of a single Redis (see `publishScript`): the batch goes out with PUBLISH. */
export const PUBLISH_SCRIPT = publishScript('PUBLISH');

/**
 * `PUBLISH_SCRIPT` for a Redis Cluster: the batch goes out with SPUBLISH (sharded pub/sub), so only
 * the node that serves the room's slot carries it, to the processes subscribed there; the channel
 * shares the room's hash tag, so the script may publish it atomically with its writes.
 */
export const SHARDED_PUBLISH_SCRIPT = publishScript('SPUBLISH');

/**
 * Reads a room's position and, when the caller's position may be recoverable, the messages after it.
 * It writes nothing for a room never published to: that room stands at offset 0 of no epoch yet,
 * answered as `~<Redis ms now>` (an "unpublished" epoch: no real epoch starts with `~`), so joins
 * and reads leave no key behind.
 * - When ARGV[3] (the caller's epoch) is the room's and 0 < missed = offset − ARGV[4] ≤ size, returns
 *   the newest `missed` stream entries no older than ttl, newest first; the caller checks they are
 *   exactly the offsets it missed (anything trimmed, expired or lost shows as a gap).
 * - A caller at offset 0 of an unpublished epoch `~T` saw the room before its first message: it
 *   missed exactly the room's current epoch from its offset 1 when that epoch was born at or after
 *   T, and less than `retention` ms after it (so no earlier epoch can have begun and expired
 *   between); a room still never published to needs nothing, while T is less than `retention` ago.
 *   Then the entries are returned as if the caller were at offset 0 of the room's epoch (an empty
 *   list when there is nothing to send); otherwise none.
 * - When ARGV[7] is '1' (the position is one the server delivered) and the room is behind it in the
 *   same epoch, history was lost (a failover to a replica that missed writes): the room gets the
 *   new epoch and loses its stream, so its next publishes cannot reuse offsets clients have seen.
 *
 * KEYS: position hash, history stream. ARGV: new epoch, retention ms, since epoch ('' for none),
 * since offset, size, ttl ms, delivered ('1' or '0'). Returns [offset, epoch] or [offset, epoch, entries].
 */
export const HISTORY_SCRIPT = script(
	`${NOW}
local retention = tonumber(ARGV[2])
local since = ARGV[3]
local sinceOffset = tonumber(ARGV[4])
local before = sinceOffset == 0 and tonumber(string.match(since, '^~(%d+)$') or '')
if before and (before > now or now - before >= retention) then before = nil end
local epoch = redis.call('HGET', KEYS[1], 'epoch')
if not epoch then
  local unpublished = '~' .. string.format('%d', now)
  if before then return {0, unpublished, {}} end
  return {0, unpublished}
end
local offset = tonumber(redis.call('HGET', KEYS[1], 'offset') or '0')
if ARGV[7] == '1' and since == epoch and sinceOffset > offset then
  epoch = ARGV[1]
  redis.call('DEL', KEYS[2])
  redis.call('HSET', KEYS[1], 'epoch', epoch, 'born', string.format('%d', now))
end
if before then
  local born = tonumber(redis.call('HGET', KEYS[1], 'born') or '')
  if not born or born < before or born - before >= retention then return {offset, epoch} end
  since = epoch
end
local missed = offset - sinceOffset
local size = tonumber(ARGV[5])
local ttl = tonumber(ARGV[6])
if since ~= epoch or missed < 0 or missed > size or (missed > 0 and ttl <= 0) then
  return {offset, epoch}
end
if missed == 0 then return {offset, epoch, {}} end
local oldest = string.format('%d', math.max(now - ttl + 1, 0))
return {offset, epoch, redis.call('XREVRANGE', KEYS[2], '+', oldest, 'COUNT', missed)}`,
	2
);

/**
 * Whether `position` was read before its room's first publish (offset 0 of an epoch `~<ms>`, see
 * `HISTORY_SCRIPT`): history may then recover the room's first epoch for it.
 */
export function isUnpublished(position: StreamPosition): boolean {
	return position.offset == 0 && position.epoch.startsWith('~');
}

/**
 * The messages after offset `since` in the entries the history script answered (newest first),
 * oldest first; undefined unless they are exactly the offsets `since + 1` to `current` (anything
 * trimmed, expired or lost shows as a gap).
 */
export function historyMessages(
	entries: unknown,
	since: number,
	current: number
): Record<string, unknown>[] | undefined {
	if (!Array.isArray(entries) || entries.length != current - since) return undefined;
	const messages: Record<string, unknown>[] = [];
	for (let index = entries.length - 1; index >= 0; index--) {
		const fields = (entries[index] as [string, string[]] | undefined)?.[1];
		if (!Array.isArray(fields)) return undefined;
		let offset: number | undefined;
		let text: string | undefined;
		for (let field = 0; field + 1 < fields.length; field += 2) {
			if (fields[field] == 'offset') offset = Number(fields[field + 1]);
			else if (fields[field] == 'message') text = fields[field + 1];
		}
		if (offset !== since + messages.length + 1 || text === undefined) return undefined;
		try {
			const message = JSON.parse(text) as unknown;
			if (!isRecord(message)) return undefined;
			messages.push(message);
		} catch {
			return undefined;
		}
	}
	return messages;
}

/**
 * Whether Redis refused to run a script because it does not know its SHA1 (the script did not run).
 */
export function isNoScript(error: unknown): boolean {
	return error instanceof Error && error.message.includes('NOSCRIPT');
}
