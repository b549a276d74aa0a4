/** "just now", "42 s", "5 min", "3 h", "2 d": short enough for a narrow column. */
export function formatAge(milliseconds: number): string {
	const seconds = Math.max(0, Math.round(milliseconds / 1000));
	if (seconds < 5) return 'just now';
	if (seconds < 60) return `${seconds} s`;
	const minutes = Math.floor(seconds / 60);
	if (minutes < 60) return `${minutes} min`;
	const hours = Math.floor(minutes / 60);
	return hours < 24 ? `${hours} h` : `${Math.floor(hours / 24)} d`;
}

/** The current time, ticking every `interval` ms while a component reads it. */
export class Clock {
	#now = $state(Date.now());

	constructor(interval = 5_000) {
		$effect(() => {
			const timer = setInterval(() => (this.#now = Date.now()), interval);
			return () => clearInterval(timer);
		});
	}

	get now(): number {
		return this.#now;
	}
}
