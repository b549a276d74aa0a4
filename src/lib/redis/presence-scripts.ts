import { script, type LuaScript } from './scripts.js';

/**
 * The Lua scripts of presence. Every one works on the three presence keys of one room (they share
 * the room's hash tag, so a Redis Cluster keeps them in one slot, with the room's channel):
 * - KEYS[1] `connections`: field `<process>/<connection id>` → user id;
 * - KEYS[2] `users`: field user id → `<connections>:<data JSON>` (the data of the user's latest
 *   connection), so a script finds a user's new count without reading the whole room;
 * - KEYS[3] `processes`: field process id → the Redis time (ms) its entries expire at, renewed by
 *   the process's heartbeat. Liveness lives in the room's slot so that a script can drop a dead
 *   process's entries atomically (a script may not read a key of another slot).
 *
 * Common ARGV: [1] the room's channel, [2] this process's id, [3] presence ttl ms, [4] retention
 * ms (how long the keys outlive their last write, should every process die), [5] the presence
 * room's name as a JSON string (a route's scope of the room: several share the room's channel).
 * Each script first drops the entries of processes whose time passed, then does its work, then
 * publishes every user it changed in one presence envelope on the room's channel,
 * `{"p":{"set":{},"removed":[…],"in":<name>,"put":[[<user id>,<entry>],…]}}`: user ids travel as
 * strings, never as keys (`set` stays empty for the envelope's readers), so a user named
 * `__proto__` reaches every process. The changes of a room reach every process in the order Redis
 * made them, so two processes never announce different counts for one user.
 */
const PRELUDE = `local connections, users, processes = KEYS[1], KEYS[2], KEYS[3]
local process, ttl, retention = ARGV[2], tonumber(ARGV[3]), ARGV[4]
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local changed, order = {}, {}
local function entry(user)
  local value = redis.call('HGET', users, user)
  if not value then return 0, 'null' end
  local colon = string.find(value, ':', 1, true)
  return tonumber(string.sub(value, 1, colon - 1)), string.sub(value, colon + 1)
end
local function add(user, delta, data)
  local count, kept = entry(user)
  count = count + delta
  if count <= 0 then
    redis.call('HDEL', users, user)
  else
    redis.call('HSET', users, user, count .. ':' .. (data or kept))
  end
  if not changed[user] then
    changed[user] = true
    order[#order + 1] = user
  end
end
local function drop(dead)
  local prefix = dead .. '/'
  local all = redis.call('HGETALL', connections)
  for index = 1, #all, 2 do
    if string.sub(all[index], 1, #prefix) == prefix then
      redis.call('HDEL', connections, all[index])
      add(all[index + 1], -1)
    end
  end
  redis.call('HDEL', processes, dead)
end
local all = redis.call('HGETALL', processes)
for index = 1, #all, 2 do
  if tonumber(all[index + 1]) < now then drop(all[index]) end
end
local function renew()
  redis.call('HSET', processes, process, string.format('%d', now + ttl))
end
local function finish(publish)
  if #order > 0 then
    local put, removed = {}, {}
    for _, user in ipairs(order) do
      local count, data = entry(user)
      local id = cjson.encode(user)
      if count > 0 then
        put[#put + 1] = '[' .. id .. ',{"data":' .. data .. ',"connections":' .. count .. '}]'
      else
        removed[#removed + 1] = id
      end
    end
    redis.call(publish, ARGV[1], '[{"p":{"set":{},"removed":[' .. table.concat(removed, ',') ..
      '],"in":' .. ARGV[5] .. ',"put":[' .. table.concat(put, ',') .. ']}}]')
  end
  if redis.call('HLEN', connections) == 0 and redis.call('HLEN', processes) == 0 then
    redis.call('DEL', connections, users, processes)
  else
    for _, key in ipairs(KEYS) do redis.call('PEXPIRE', key, retention) end
  end
end
`;

/** The four scripts of one publish command (PUBLISH on one Redis, SPUBLISH on a cluster). */
export interface PresenceScripts {
	/**
	 * ARGV[6]: '1' to drop every entry of this process first (they are all written again: a
	 * resync); ARGV[7…]: triples of connection id, user id, data JSON. Tracks each, renews the
	 * process.
	 */
	readonly track: LuaScript;
	/** ARGV[6]: connection id, ARGV[7]: '1' when it was the process's last one in the room. */
	readonly untrack: LuaScript;
	/** Renews the process; returns 0 when Redis no longer had it (dropped, or Redis lost the room). */
	readonly heartbeat: LuaScript;
	/** Drops every entry of this process in the room (`close()`). */
	readonly leave: LuaScript;
}

function presenceScripts(publish: 'PUBLISH' | 'SPUBLISH'): PresenceScripts {
	const finish = `finish('${publish}')`;
	return {
		track: script(
			`${PRELUDE}if ARGV[6] == '1' then drop(process) end
renew()
for index = 7, #ARGV, 3 do
  local field = process .. '/' .. ARGV[index]
  local previous = redis.call('HGET', connections, field)
  if previous then add(previous, -1) end
  redis.call('HSET', connections, field, ARGV[index + 1])
  add(ARGV[index + 1], 1, ARGV[index + 2])
end
${finish}
return 1`,
			3
		),
		untrack: script(
			`${PRELUDE}local field = process .. '/' .. ARGV[6]
local user = redis.call('HGET', connections, field)
if user then
  redis.call('HDEL', connections, field)
  add(user, -1)
end
if ARGV[7] == '1' then redis.call('HDEL', processes, process) else renew() end
${finish}
return 1`,
			3
		),
		heartbeat: script(
			`${PRELUDE}local known = redis.call('HEXISTS', processes, process)
renew()
${finish}
return known`,
			3
		),
		leave: script(`${PRELUDE}drop(process)\n${finish}\nreturn 1`, 3)
	};
}

/**
 * Reads a room's presence, leaving out the entries of processes whose time passed (dead, and not
 * yet dropped by a survivor). KEYS: connections, users, processes. Returns a flat array: user id,
 * connections, data JSON, for each user.
 */
export const PRESENCE_MEMBERS_SCRIPT = script(
	`local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local alive = {}
local all = redis.call('HGETALL', KEYS[3])
for index = 1, #all, 2 do
  if tonumber(all[index + 1]) >= now then alive[all[index]] = true end
end
local counts, order = {}, {}
all = redis.call('HGETALL', KEYS[1])
for index = 1, #all, 2 do
  local slash = string.find(all[index], '/', 1, true)
  if slash and alive[string.sub(all[index], 1, slash - 1)] then
    local user = all[index + 1]
    if not counts[user] then
      counts[user] = 0
      order[#order + 1] = user
    end
    counts[user] = counts[user] + 1
  end
end
local reply = {}
for _, user in ipairs(order) do
  local value = redis.call('HGET', KEYS[2], user) or '0:null'
  local colon = string.find(value, ':', 1, true)
  reply[#reply + 1] = user
  reply[#reply + 1] = counts[user]
  reply[#reply + 1] = string.sub(value, colon + 1)
end
return reply`,
	3
);

/** The presence scripts of a single Redis: changes go out with PUBLISH. */
export const PRESENCE_SCRIPTS = presenceScripts('PUBLISH');

/**
 * The presence scripts of a Redis Cluster: changes go out with SPUBLISH, on the node of the room's
 * slot (its keys and channel share the room's hash tag).
 */
export const SHARDED_PRESENCE_SCRIPTS = presenceScripts('SPUBLISH');
