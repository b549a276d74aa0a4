import { fork, type ChildProcess } from 'node:child_process';

/**
 * A forked TypeScript process of a benchmark (run through tsx, with extra Node flags if asked),
 * spoken to over IPC, whose reports are awaited in order and by type. An exit, or a report of
 * another type, rejects what is awaited. Every suite's servers and load clients run in these.
 *
 * @example
 * const server = new Child<ServerCommand, ServerReport>(new URL('./server-process.ts', import.meta.url), ['ws'], ['--expose-gc']);
 * const { port } = await server.next('listening', 30_000);
 * await server.stop({ type: 'exit' });
 */
export class Child<Command, Report extends { type: string }> {
	readonly #process: ChildProcess;
	readonly #exited: Promise<void>;
	readonly #queued: Report[] = [];
	#waiter?: (report: Report | Error) => void;
	/** Set once the process exited: the answer to every wait from then on. */
	#exit?: Error;

	constructor(file: URL, args: string[], nodeFlags: string[] = []) {
		this.#process = fork(file, args, {
			execArgv: [...nodeFlags, '--import', 'tsx'],
			stdio: ['ignore', 'inherit', 'inherit', 'ipc']
		});
		this.#process.on('message', (report) => this.#deliver(report as Report));
		const name = file.pathname.split('/').slice(-2).join('/');
		this.#exited = new Promise((resolve) =>
			this.#process.on('exit', (code, signal) => {
				this.#deliver(new Error(`${name} exited with ${code ?? signal}`));
				resolve();
			})
		);
	}

	#deliver(report: Report | Error): void {
		if (this.#waiter) this.#waiter(report);
		else if (report instanceof Error) this.#exit = report;
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
			const queued = this.#queued.shift() ?? this.#exit;
			if (queued) settle(queued);
			else this.#waiter = settle;
		});
	}

	/** SIGKILLs the process, as a crash would, and resolves once it is gone. */
	async kill(): Promise<void> {
		if (this.#process.exitCode === null && this.#process.signalCode === null) {
			this.#process.kill('SIGKILL');
		}
		await this.#exited;
	}

	/** Asks the process to exit with `command` and waits for it (killing it after 5 s). */
	async stop(command: Command): Promise<void> {
		if (this.#process.exitCode !== null || this.#process.signalCode !== null) return;
		if (this.#process.connected) this.send(command);
		const timer = setTimeout(() => this.#process.kill('SIGKILL'), 5_000);
		await this.#exited;
		clearTimeout(timer);
	}
}
