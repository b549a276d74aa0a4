// A Transport (src/lib/server/transport/transport.ts) whose network a test scripts: it buffers what
// is sent as a TCP socket does, is backpressured once its buffer reaches the high-water mark (as
// `writableNeedDrain`), and drains only when the test has the network take bytes. For unit tests of
// the Outbox. The Transport is the server's seam to its WebSocket library, so a stub stands for it.
import type { PreparedMessage } from '../../src/lib/server/transport/prepared-message.js';
import type { Transport, TransportReceiver } from '../../src/lib/server/transport/transport.js';

/** A `net.Socket`'s default high-water mark. */
export const SOCKET_HIGH_WATER_MARK = 16 * 1024;

export class ScriptedTransport implements Transport {
	/** Buffered bytes from which it is backpressured. */
	readonly highWaterMark: number;
	/** Every message sent, in order. */
	readonly sent: PreparedMessage[] = [];
	/** Called on every send (a test's reference checks each one as it happens). */
	onSend: (message: PreparedMessage) => void = () => {};
	#buffered = 0;
	#needDrain = false;
	#open = true;
	#corks = 0;
	#drainListeners: (() => void)[] = [];

	constructor(highWaterMark = SOCKET_HIGH_WATER_MARK) {
		this.highWaterMark = highWaterMark;
	}

	get isOpen(): boolean {
		return this.#open;
	}

	get isClosed(): boolean {
		return !this.#open;
	}

	get writable(): boolean {
		return this.#open;
	}

	get bufferedAmount(): number {
		return this.#buffered;
	}

	get backpressured(): boolean {
		return this.#needDrain;
	}

	/** Listeners waiting for the next drain. */
	get drainListeners(): number {
		return this.#drainListeners.length;
	}

	get corked(): boolean {
		return this.#corks > 0;
	}

	send(message: PreparedMessage): void {
		if (!this.#open) throw new Error('send on a closed transport');
		this.sent.push(message);
		this.onSend(message);
		this.#write(message.frameLength);
	}

	/** Something else wrote `bytes` to the socket (a ping, a pong): it may fill the buffer too. */
	write(bytes: number): void {
		this.#write(bytes);
	}

	#write(bytes: number): void {
		this.#buffered += bytes;
		if (this.#buffered >= this.highWaterMark) this.#needDrain = true;
	}

	/**
	 * The network takes up to `bytes` from the buffer; once it is empty, a backpressured socket drains
	 * (its listeners run, and may send more). Returns whether it drained.
	 */
	take(bytes: number): boolean {
		this.#buffered = Math.max(0, this.#buffered - bytes);
		if (this.#buffered || !this.#needDrain) return false;
		this.#needDrain = false;
		const listeners = this.#drainListeners.splice(0);
		for (const listener of listeners) listener();
		return true;
	}

	/** The socket is gone (destroyed): nothing can be sent, and it never drains. */
	destroy(): void {
		this.#open = false;
		this.#drainListeners.length = 0;
	}

	cork(): void {
		this.#corks++;
	}

	uncork(): void {
		this.#corks--;
	}

	onceDrained(listener: () => void): void {
		if (this.#open) this.#drainListeners.push(listener);
	}

	listen(_receiver: TransportReceiver): void {}
	ping(): void {}
	pong(): void {}
	close(): void {
		this.#open = false;
	}
	terminate(): void {
		this.destroy();
	}
	pause(): void {}
	onceClosed(_listener: () => void): void {}
}
