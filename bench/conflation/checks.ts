import { nowMicros } from '../throughput/messages.js';
import type { CheckData, Goal, PublishPlan } from './messages.js';

/** `{"seq":1234,"t":1234567890123456,"key":"k123","status":"up","pad":""}`: data before its padding. */
const DATA_WITHOUT_PADDING = 70;

/**
 * The padding that makes a check's data about `dataBytes` of JSON.
 *
 * @example
 * const plan: PublishPlan = { ...rest, padding: paddingFor(250) };
 */
export function paddingFor(dataBytes: number): string {
	return 'x'.repeat(Math.max(0, dataBytes - DATA_WITHOUT_PADDING));
}

/**
 * Whether message `seq` of a plan (or goal) with `unkeyedEvery` is published without a key: every
 * `unkeyedEvery`-th one, the last of each group.
 *
 * @example
 * isUnkeyed(100, 101); // true
 */
export function isUnkeyed(seq: number, unkeyedEvery: number | undefined): boolean {
	return unkeyedEvery !== undefined && seq % unkeyedEvery == unkeyedEvery - 1;
}

/**
 * Message `seq` of `plan`, stamped now: about monitor `k<seq mod keys>`, its status flipping now and
 * then, padded to the plan's size.
 *
 * @example
 * await sockets.publish(Check, checkOf(plan, 0), { room: plan.room });
 */
export function checkOf(plan: PublishPlan, seq: number): CheckData {
	const key = `k${seq % plan.keys}`;
	return { seq, t: nowMicros(), key, status: seq % 7 ? 'up' : 'down', pad: plan.padding };
}

/**
 * The newest keyed message of each monitor in a goal (by monitor index): what a reader holds once
 * it caught up. A monitor without a keyed message has -1.
 *
 * @example
 * newestPerKey({ messages: 400, keys: 200 })[3]; // 203
 */
export function newestPerKey(goal: Goal): Int32Array {
	const newest = new Int32Array(goal.keys).fill(-1);
	let missing = goal.keys;
	for (let seq = goal.messages - 1; seq >= 0 && missing > 0; seq--) {
		const key = seq % goal.keys;
		if (newest[key] >= 0 || isUnkeyed(seq, goal.unkeyedEvery)) continue;
		newest[key] = seq;
		missing--;
	}
	return newest;
}

/**
 * How many messages of a goal are unkeyed: each one a reader must get.
 *
 * @example
 * unkeyedCount({ messages: 20_200, keys: 200, unkeyedEvery: 101 }); // 200
 */
export function unkeyedCount(goal: Goal): number {
	return goal.unkeyedEvery ? Math.floor(goal.messages / goal.unkeyedEvery) : 0;
}
