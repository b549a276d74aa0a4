// What one room delivery of a ~100 B payload costs on the wire, per contender: the WebSocket frame
// as the client receives it (header + payload; no extension is negotiated), against the payload's
// own JSON.
import WebSocket from 'ws';
import { envelopeDialect, JOINED_MESSAGE } from '../../src/lib/protocol/envelope.js';
import { Child } from '../child.js';
import type { ClientProtocol, Contender } from './contenders.js';
import type { RunPlan, ServerCommand, ServerReport, TickData } from './messages.js';

const TIMEOUT_MS = 30_000;
const ROOM = 'room-0';

/**
 * One contender's room delivery as it travels: the frame's text and sizes.
 *
 * @example
 * const { frameBytes, payloadBytes } = await measureWireBytes(contender, 100);
 */
export interface WireDelivery {
	contender: string;
	frame: string;
	/** WebSocket header + payload of the frame, as sent by the server (unmasked). */
	frameBytes: number;
	/** `JSON.stringify` of the published data alone. */
	payloadBytes: number;
}

/** The header of an unmasked server frame carrying `length` bytes (RFC 6455 §5.2). */
function headerBytes(length: number): number {
	if (length <= 125) return 2;
	return length <= 0xffff ? 4 : 10;
}

/** How a probe joins the room and recognises the tick among a protocol's frames. */
interface ProbeProtocol {
	path: string;
	/** The frame to send on `text` (or none), and whether the probe is now in the room. */
	handshake(text: string): { reply?: string; joined: boolean };
	/** The tick's data if `text` is the tick's frame. */
	tick(text: string): TickData | undefined;
}

const probes: Record<ClientProtocol, ProbeProtocol> = {
	'raw-ws': {
		path: `/?room=${ROOM}`,
		handshake: () => ({ joined: true }),
		tick: (text) => {
			const message = JSON.parse(text) as { name?: string; data?: TickData };
			return message.name == 'tick' ? message.data : undefined;
		}
	},
	runesocket: {
		path: '/ws',
		handshake: (text) => ({ joined: envelopeDialect.decode(text)?.name == JOINED_MESSAGE }),
		tick: (text) => {
			const message = envelopeDialect.decode(text);
			return message?.name == 'tick' ? (message.data as TickData) : undefined;
		}
	},
	// Engine.IO 4 over a bare WebSocket: "0{…}" opens, "40" connects the main namespace, "42[…]" is an event.
	'socket.io': {
		path: `/socket.io/?EIO=4&transport=websocket&room=${ROOM}`,
		handshake: (text) =>
			text.startsWith('0{') ? { reply: '40', joined: false } : { joined: text == '42["joined"]' },
		tick: (text) => {
			if (!text.startsWith('42["tick"')) return undefined;
			return (JSON.parse(text.slice(2)) as [string, TickData])[1];
		}
	}
};

/** Connects a probe, joins the room, then resolves with the first tick's frame once `publish` ran. */
function probeTick(
	protocol: ClientProtocol,
	port: number,
	publish: () => void
): Promise<{ frame: string; data: TickData }> {
	const probe = probes[protocol];
	return new Promise((resolve, reject) => {
		const socket = new WebSocket(`ws://127.0.0.1:${port}${probe.path}`, {
			perMessageDeflate: false
		});
		const timer = setTimeout(
			() => reject(new Error(`No tick within ${TIMEOUT_MS} ms`)),
			TIMEOUT_MS
		);
		let joined = false;
		const join = (): void => {
			if (protocol == 'runesocket') socket.send(envelopeDialect.join(ROOM));
		};
		socket.on('error', reject);
		socket.on('open', () => {
			join();
			if (protocol == 'raw-ws') {
				joined = true;
				publish();
			}
		});
		socket.on('message', (raw) => {
			const text = raw.toString();
			if (joined) {
				const data = probe.tick(text);
				if (!data) return;
				clearTimeout(timer);
				socket.close();
				resolve({ frame: text, data });
				return;
			}
			const { reply, joined: nowJoined } = probe.handshake(text);
			if (reply) socket.send(reply);
			if (nowJoined) {
				joined = true;
				publish();
			}
		});
	});
}

/**
 * Starts `contender`'s server, joins one probe client to a room, publishes one ~`payloadBytes`
 * message and measures the frame the probe receives.
 *
 * @example
 * const delivery = await measureWireBytes(contenderNamed('ws'), 100);
 */
export async function measureWireBytes(
	contender: Contender,
	payloadBytes: number
): Promise<WireDelivery> {
	const server = new Child<ServerCommand, ServerReport>(
		new URL('./server-process.ts', import.meta.url),
		[contender.name, `bench:wire:${contender.name.replace(/\W+/g, '-')}:`]
	);
	try {
		const { port } = await server.next('listening', TIMEOUT_MS);
		const plan: RunPlan = {
			rooms: [ROOM],
			publishesPerTurn: 1,
			publishes: 1,
			padding: 'x'.repeat(Math.max(0, payloadBytes - 40))
		};
		const { frame, data } = await probeTick(contender.protocol, port, () =>
			server.send({ type: 'publish', plan })
		);
		await server.next('published', TIMEOUT_MS);
		const length = Buffer.byteLength(frame);
		return {
			contender: contender.name,
			frame,
			frameBytes: headerBytes(length) + length,
			payloadBytes: Buffer.byteLength(JSON.stringify(data))
		};
	} finally {
		await server.stop({ type: 'exit' });
	}
}

/**
 * A markdown table of the wire cost of one room delivery per contender, with the frame's text (its
 * padding shortened).
 *
 * @example
 * console.log(wireBytesTable(deliveries).join('\n'));
 */
export function wireBytesTable(deliveries: readonly WireDelivery[]): string[] {
	const lines = [
		'| contender | bytes on the wire (frame header + payload) | payload JSON bytes | overhead bytes | frame (padding shortened) |',
		'|---|---:|---:|---:|---|'
	];
	for (const { contender, frame, frameBytes, payloadBytes } of deliveries) {
		const shown = frame.replace(/x{8,}/, (padding) => `x…(${padding.length})`);
		lines.push(
			`| ${contender} | ${frameBytes} | ${payloadBytes} | ${frameBytes - payloadBytes} | \`${shown}\` |`
		);
	}
	return lines;
}
