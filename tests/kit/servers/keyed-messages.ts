/**
 * What the keyed server (tests/kit/servers/keyed-server.ts) and the exactly-once fault tests agree
 * on. No vitest import here: the server runs in a plain Node process.
 */
import { ClientMessage } from '../../../src/lib/index.js';

/** What a keyed `Apply` asks of the handler. */
export interface ApplyData {
	/** Wait before the effect until the test releases the key (`POST /release?key=`). */
	readonly hold?: boolean;
	/** Milliseconds of work before the effect (a handler that is not instant). */
	readonly work?: number;
}

/** The handler's answer: which run made it, so two equal answers are one run's. */
export interface ApplyAnswer {
	/** A random id made by the run. */
	readonly run: string;
	/** The process that ran it. */
	readonly pid: number;
}

/**
 * A request whose handler has one side effect: a line `<key>` appended to the test's effects file,
 * then the answer `ApplyAnswer`.
 */
export const Apply = ClientMessage.define<ApplyData>('keyed.apply');

/** The route of the keyed server. */
export const KEYED_PATH = '/ws';
