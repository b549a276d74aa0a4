// A child process holding the suite's one reader of interest (the slow reader of a fan-out run, or
// the client that leaves and rejoins in a replay run): `fork('reader-process.ts')`, then
// ReaderCommand / ReaderReport over IPC.
import type { ReaderCommand, ReaderReport } from './messages.js';
import { Reader } from './reader.js';

function report(message: ReaderReport): void {
	process.send?.(message);
}

let reader: Reader | undefined;

async function obey(command: ReaderCommand): Promise<void> {
	if (command.type == 'open') {
		await reader?.close();
		const { port, room, goal, reports } = command;
		reader = (await Reader.join(port, room, goal, { watched: true, reports })).reader;
		reader.pause();
		report({ type: 'opened' });
	} else if (command.type == 'throttle') {
		reader?.throttle(command.bytesPerSecond);
	} else if (command.type == 'catch-up') {
		if (!reader) throw new Error('catch-up without an open reader');
		const result = await reader.catchUp(command.timeoutMs);
		await reader.close();
		reader = undefined;
		report({ type: 'caught-up', result });
	} else if (command.type == 'seed') {
		const joined = (await Reader.join(command.port, command.room, { messages: 0, keys: 1 })).reader;
		const position = joined.position;
		await joined.close();
		if (!position) throw new Error('room.joined without a position');
		report({ type: 'seeded', position });
	} else if (command.type == 'rejoin') {
		const { room, since, goal } = command;
		const joined = await Reader.join(command.port, room, goal, { since, reports: true });
		const result = await joined.reader.catchUp(command.timeoutMs, joined.joinSent);
		await joined.reader.close();
		report({ type: 'caught-up', result });
	} else {
		await reader?.close();
		process.exit(0);
	}
}

process.on('message', (command: ReaderCommand) => {
	obey(command).catch((error: unknown) => report({ type: 'failed', error: String(error) }));
});
// The orchestrator is gone (it crashed or was killed): nothing will tell this process to exit.
process.on('disconnect', () => process.exit(1));
report({ type: 'ready' });
