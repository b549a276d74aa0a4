import { conflationId, type InboundMessage } from '../protocol/envelope.js';
import type { StandardIssue, StandardResult } from '../protocol/standard-schema.js';

/**
 * One thing waiting for the flush, in arrival order: a message for the feeds of one definition, or
 * an action that must happen between messages (a reset).
 */
export interface Letter {
	/** The message it carries; a keyed room message may be superseded before its turn. */
	readonly message?: InboundMessage;
	/** Runs the schema, once, at its turn; without one, the letter is simply handed on. */
	readonly validate?: () => StandardResult<unknown> | Promise<StandardResult<unknown>>;
	/** Takes the value the schema accepted. */
	readonly hand: (value: unknown) => void;
}

/** A letter in the inbox, with the schema's answer once asked (a promise while it runs). */
interface Posted extends Letter {
	readonly id: string | undefined;
	asked?: boolean;
	answer?: unknown;
}

/**
 * The most letters that wait for a flush. A page that gets no frames (a hidden tab) still receives:
 * past this many, the waiting letters are handed on at once, superseded ones skipped, so that memory
 * stays bounded by the feeds (a stream's limit, a collection's keys) as it was before messages
 * waited. At 10,000 messages a second and 60 frames, a frame holds under 200.
 */
export const MAX_WAITING = 10_000;

/** What a schema that throws or rejects answers: a refusal, as the client makes of it. */
function refusal(error: unknown): StandardResult<unknown> {
	return { issues: [{ message: String(error) }] };
}

/** The conflation id of a keyed room message, the one a later message must share to supersede it. */
function conflationIdOf(message: InboundMessage | undefined): string | undefined {
	if (typeof message?.conflationKey != 'string' || message.room === undefined) return undefined;
	return conflationId(message.room, message.name, message.conflationKey);
}

/**
 * The messages a LiveSocket received and has not handed to its feeds yet, in arrival order. At
 * each drain (the flush's delivery stage), a keyed room message that a later waiting message of the
 * same room, name and conflation key supersedes is dropped: never validated (or, if its async schema
 * runs already, not waited for) and never handed on. Every other letter is validated and handed on
 * in turn. A letter whose schema answers later holds back every letter behind it, and the drain
 * goes on from it at the flush after the answer (`wake`).
 */
export class Inbox {
	#letters: Posted[] = [];
	/** Where the drain stands in `#letters`: the letters before it are handed on already. */
	#head = 0;
	/**
	 * The newest message of each conflation id received since the inbox was last empty: a letter
	 * whose message is not that one is superseded.
	 */
	#newest = new Map<string, InboundMessage>();
	#wake: () => void;
	#refuse: (message: InboundMessage | undefined, issues: readonly StandardIssue[]) => void;

	/**
	 * `wake` asks for a drain at the next flush; `refuse` reports a message its schema refused (or
	 * threw on).
	 */
	constructor(
		wake: () => void,
		refuse: (message: InboundMessage | undefined, issues: readonly StandardIssue[]) => void
	) {
		this.#wake = wake;
		this.#refuse = refuse;
	}

	/** Queues `letter` behind every waiting one, and asks for a drain. */
	post(letter: Letter): void {
		const id = conflationIdOf(letter.message);
		if (id !== undefined) this.#newest.set(id, letter.message!);
		this.#letters.push({ ...letter, id });
		if (this.#letters.length - this.#head > MAX_WAITING) this.drain();
		else this.#wake();
	}

	/**
	 * Hands on every waiting letter in order, skipping the superseded ones, until one waits for an
	 * async schema. An arrow, so that it is the same function at every flush.
	 */
	readonly drain = (): void => {
		while (this.#head < this.#letters.length) {
			const letter = this.#letters[this.#head];
			// Superseded: never validated, or, when its schema runs already, not waited for.
			if (letter.id !== undefined && this.#newest.get(letter.id) != letter.message) {
				this.#head++;
				continue;
			}
			if (!letter.asked) this.#ask(letter);
			if (letter.answer instanceof Promise) {
				// The letters handed on are forgotten; the rest wait for this answer.
				this.#letters.splice(0, this.#head);
				this.#head = 0;
				return;
			}
			this.#head++;
			this.#handOn(letter);
		}
		this.clear();
	};

	/** Forgets every waiting letter: an answer still to come is then nobody's. */
	clear(): void {
		this.#letters = [];
		this.#head = 0;
		this.#newest.clear();
	}

	#ask(letter: Posted): void {
		letter.asked = true;
		try {
			const answer = (letter.answer = letter.validate ? letter.validate() : { value: undefined });
			if (!(answer instanceof Promise)) return;
			const settle = (result: unknown) => {
				letter.answer = result;
				// Still the head: the drain goes on from it. After clear() nothing waits for it.
				if (this.#letters[this.#head] == letter) this.#wake();
			};
			answer.then(settle, (error: unknown) => settle(refusal(error)));
		} catch (error) {
			letter.answer = refusal(error);
		}
	}

	#handOn({ message, answer, hand }: Posted): void {
		// An answer that is no result at all refuses the data too, as it does in the client.
		const { issues, value } = (answer ?? refusal('No result')) as StandardResult<unknown> & {
			value?: unknown;
		};
		if (issues) this.#refuse(message, issues);
		else hand(value);
	}
}
