/**
 * The first-message auth path under attack: sockets that never send a token (4003 past
 * `maxPending`, 4002 at the deadline, and the slot free at that moment, not when TCP ends), frames
 * piled up before the token is checked, and every way the app's callbacks on that path can fail.
 * The fixture runs with a 1 s token deadline and `maxPending` 20.
 */
import { describe, expect, it } from 'vitest';
import { expectUnharmed, scaled, underAttack } from '../../kit/attack/attack.js';
import { signIn } from '../../kit/attack/flood.js';
import {
	ConnectionFlag,
	HardeningRoute,
	LONG_REASON,
	Token
} from '../../kit/servers/hardening-messages.js';
import { useHardeningServer } from '../../kit/servers/hardening-server-process.js';
import { encodeFrame, Opcode, RawClient } from '../../kit/peers/raw-frames.js';

const AUTH_TIMEOUT_MS = 1_000;
const MAX_PENDING = 20;
const server = useHardeningServer({
	AUTH_TIMEOUT_MS: String(AUTH_TIMEOUT_MS),
	MAX_PENDING: String(MAX_PENDING)
});

/** The contract: a peer that does not finish the close handshake is dropped within 3 s. */
const TERMINATE_WITHIN_MS = 3_000;
const SLACK_MS = 500;

function openRaw(count: number): Promise<RawClient[]> {
	return Promise.all(
		Array.from({ length: count }, () =>
			RawClient.connect(server().port, { path: HardeningRoute.auth })
		)
	);
}

/** How `client`'s connection ended: its close frame, waiting at most `ms`. */
async function closeOf(client: RawClient, ms = 5_000): Promise<number | undefined> {
	return (await client.waitForClose(ms))?.code;
}

/** Whether a UTF-8 byte sequence decodes without a replacement. */
function isValidUtf8(bytes: Buffer): boolean {
	try {
		new TextDecoder('utf-8', { fatal: true }).decode(bytes);
		return true;
	} catch {
		return false;
	}
}

describe('sockets that never authenticate', () => {
	it('past maxPending get 4003; at the deadline 4002, and their slots are free at once', async () => {
		const rounds = scaled(1, 20);
		const outcome = await underAttack(server(), 'pending-auth exhaustion', async (inputs) => {
			for (let round = 0; round < rounds; round++) {
				const idle = await openRaw(MAX_PENDING);
				// Every slot is taken once these sockets' upgrades went through.
				const overflow = await openRaw(10);
				inputs.count += MAX_PENDING + 10;
				const overflowCodes = await Promise.all(overflow.map((client) => closeOf(client)));
				expect(overflowCodes, 'sockets past maxPending').toEqual(Array(10).fill(4003));

				const idleCloses = await Promise.all(
					idle.map((client) => client.waitForClose(AUTH_TIMEOUT_MS + 5_000))
				);
				expect(
					idleCloses.map((close) => close?.code),
					'sockets that sent no token'
				).toEqual(Array(MAX_PENDING).fill(4002));
				// They never answer the close handshake: their slots must be free already.
				const next = await openRaw(MAX_PENDING);
				inputs.count += MAX_PENDING;
				await Promise.all(next.map((client) => signIn(client, Token.good)));
				for (const client of next) client.destroy();

				const dropped = await Promise.all(
					idle.map(async (client) => {
						const since = performance.now();
						await Promise.race([
							client.ended,
							new Promise((resolve) => setTimeout(resolve, TERMINATE_WITHIN_MS + 2_000))
						]);
						return client.isClosed ? performance.now() - since : Infinity;
					})
				);
				expect(Math.max(...dropped), 'ms until silent 4002 peers are dropped').toBeLessThanOrEqual(
					TERMINATE_WITHIN_MS + SLACK_MS
				);
			}
		});
		expectUnharmed(outcome);
	}, 120_000);

	it('more than 100 frames before authentication completes close with 1008', async () => {
		const outcome = await underAttack(server(), 'frames piled up before auth', async () => {
			const [client] = await openRaw(1);
			// The token's check hangs, so everything after it waits for a verdict.
			client.sendText({ name: 'auth', data: { token: Token.hangs } });
			const frame = encodeFrame(Opcode.Text, JSON.stringify({ name: 'probe', data: null, id: 1 }));
			client.socket.write(Buffer.concat(Array.from({ length: 150 }, () => frame)));
			expect(await closeOf(client)).toBe(1008);
			return 151;
		});
		expectUnharmed(outcome);
	}, 30_000);

	it('more than 256 KiB of UTF-8 before authentication completes closes with 1008', async () => {
		const outcome = await underAttack(server(), 'bytes piled up before auth', async () => {
			const [client] = await openRaw(1);
			client.sendText({ name: 'auth', data: { token: Token.hangs } });
			// 60 KB on the wire but 20,000 UTF-16 units: six of them pass the byte cap, not a unit cap.
			const text = JSON.stringify({ name: 'probe', data: '€'.repeat(20_000) });
			for (let index = 0; index < 6; index++) client.sendText(text);
			expect(await closeOf(client)).toBe(1008);
			return 7;
		});
		expectUnharmed(outcome);
	}, 30_000);
});

describe("the app's first-message callbacks failing", () => {
	it('verify throwing, rejecting or hanging closes with 1011; refusals keep their code', async () => {
		const outcome = await underAttack(server(), 'failing verify', async () => {
			const cases: [string, number][] = [
				[Token.throws, 1011],
				[Token.rejects, 1011],
				[Token.hangs, 1011],
				[Token.customCode, 4100],
				['no-such-token', 4001]
			];
			const clients = await openRaw(cases.length);
			cases.forEach(([token], index) => clients[index].sendText({ name: 'auth', data: { token } }));
			const codes = await Promise.all(
				clients.map((client) => closeOf(client, AUTH_TIMEOUT_MS + 5_000))
			);
			expect(codes).toEqual(cases.map(([, code]) => code));
			return cases.length;
		});
		expectUnharmed(outcome);
	}, 30_000);

	it('a refusal reason longer than 123 bytes is cut on a character boundary', async () => {
		const outcome = await underAttack(server(), 'refusal with a long reason', async () => {
			const [client] = await openRaw(1);
			client.sendText({ name: 'auth', data: { token: Token.longReason } });
			const frame = await client.frames.waitFor((item) => item.opcode == Opcode.Close, 'a close');
			const reason = frame.payload.subarray(2);
			expect(frame.payload.readUInt16BE(0)).toBe(4001);
			expect(reason.length).toBeLessThanOrEqual(123);
			expect(isValidUtf8(reason), 'the reason is valid UTF-8').toBe(true);
			expect(LONG_REASON.startsWith(reason.toString())).toBe(true);
			return 1;
		});
		expectUnharmed(outcome);
	}, 30_000);

	it('connectedData throwing closes with 1011; onConnect and onClose failing change nothing', async () => {
		const outcome = await underAttack(server(), 'failing connection callbacks', async () => {
			const [dataThrows, connectThrows, connectRejects, closeThrows] = await openRaw(4);
			dataThrows.sendText({
				name: 'auth',
				data: { token: `${Token.good}:${ConnectionFlag.connectedDataThrows}` }
			});
			expect(await closeOf(dataThrows)).toBe(1011);
			for (const [client, flag] of [
				[connectThrows, ConnectionFlag.onConnectThrows],
				[connectRejects, ConnectionFlag.onConnectRejects],
				[closeThrows, ConnectionFlag.onCloseThrows]
			] as const) {
				await signIn(client, `${Token.good}:${flag}`);
				client.sendText({ name: 'probe', data: null, id: 7 });
				await client.waitForText((text) => text.includes('"id":7'), `the probe's reply (${flag})`);
			}
			closeThrows.send(Opcode.Close, Buffer.from([0x03, 0xe8]));
			await closeThrows.ended;
			return 4;
		});
		expectUnharmed(outcome);
	}, 30_000);
});
