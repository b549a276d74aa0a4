import { fork, type ChildProcess } from 'node:child_process';

/**
 * A TypeScript child process (run through tsx, with extra Node flags) spoken to over IPC; its
 * reports are awaited in order, by type. An exit or a `failed` report rejects what is awaited.
 *
 * @example
 * const server = new ChildProcessLink<ServerCommand, ServerReport>('server-process.ts', ['ws'], ['--expose-gc']);
 * const { port } = await server.next('listening', 30_000);
 */
export class ChildProcessLink<Command, Report extends { type: string }> {
	readonly #process: ChildProcess;
	readonly #queued: Report[] = [];
	#waiter: ((report: Report | Error) => void) | undefined;
	/** Set once the process exited: the answer to every wait from then on. */
	#exited: Error | undefined;

	constructor(file: string, args: string[], nodeFlags: string[] = []) {
		this.#process = fork(new URL(file, import.meta.url), args, {
			execArgv: [...nodeFlags, '--import', 'tsx'],
			stdio: ['ignore', 'inherit', 'inherit', 'ipc']
		});
		this.#process.on('message', (report) => this.#deliver(report as Report));
		this.#process.on('exit', (code) => {
			this.#exited = new Error(`${file} exited with ${code}`);
			this.#waiter?.(this.#exited);
		});
	}

	#deliver(report: Report): void {
		if (this.#waiter) this.#waiter(report);
		else this.#queued.push(report);
	}

	send(command: Command): void {
		this.#process.send(command as object);
	}

	/** The next report, which must be of `type` and arrive within `timeoutMs`. */
	next<Type extends Report['type']>(
		type: Type,
		timeoutMs: number
	): Promise<Extract<Report, { type: Type }>> {
		return new Promise((resolve, reject) => {
			const settle = (report: Report | Error): void => {
				clearTimeout(timer);
				this.#waiter = undefined;
				if (report instanceof Error) reject(report);
				else if (report.type == type) resolve(report as Extract<Report, { type: Type }>);
				else reject(new Error(`Expected "${type}", got ${JSON.stringify(report)}`));
			};
			const timer = setTimeout(
				() => settle(new Error(`No "${type}" within ${timeoutMs} ms`)),
				timeoutMs
			);
			const queued = this.#queued.shift() ?? this.#exited;
			if (queued) settle(queued);
			else this.#waiter = settle;
		});
	}

	/** Sends `command` and waits for the exit, killing the process after 5 s. */
	async stop(command: Command): Promise<void> {
		if (this.#process.exitCode !== null || this.#process.signalCode !== null) return;
		const exited = new Promise<void>((resolve) => this.#process.once('exit', () => resolve()));
		if (this.#process.connected) this.send(command);
		const timer = setTimeout(() => this.#process.kill('SIGKILL'), 5_000);
		await exited;
		clearTimeout(timer);
	}
}
