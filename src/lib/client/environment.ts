/**
 * The part of a DOM event runesocket reads.
 */
export interface EnvironmentEvent {
	readonly type: string;
	/** On `pagehide`/`pageshow`: whether the page goes into or comes out of the back/forward cache. */
	readonly persisted?: boolean;
}

/**
 * The part of `window` or `document` runesocket listens to. Pass your own in tests.
 */
export interface EnvironmentTarget {
	addEventListener(type: string, listener: (event: EnvironmentEvent) => void): void;
	removeEventListener(type: string, listener: (event: EnvironmentEvent) => void): void;
}

/**
 * The part of `window` runesocket uses: network and back/forward-cache events.
 */
export interface WindowLike extends EnvironmentTarget {
	readonly navigator?: { readonly onLine?: boolean };
}

/**
 * The part of `document` runesocket uses: visibility.
 */
export interface DocumentLike extends EnvironmentTarget {
	readonly visibilityState?: string;
}

/**
 * Why the page keeps the client from connecting: no network (`offline`), a hidden tab (`hidden`), or
 * a page kept in the back/forward cache (`frozen`).
 */
export type PauseReason = 'offline' | 'hidden' | 'frozen';

/**
 * What the page's environment tells the client: whether it may reconnect now, and when it should
 * check or drop its connection.
 */
export interface EnvironmentHandlers {
	/**
	 * Reconnecting is pointless now (offline, hidden, entering the back/forward cache). `close` (offline
	 * or frozen): no connection can work, so drop the current one and do not even try a first one.
	 */
	pause(close: boolean): void;
	/** Nothing blocks reconnecting any more: reconnect at once. */
	resume(): void;
	/** The page came back: whatever connection there is may be stale. */
	check(): void;
}

/**
 * Listens to `online`/`offline`, `visibilitychange` and `pagehide`/`pageshow` and turns them into
 * pause/resume/check calls. Each blocker is tracked on its own (in `blockers`, which the caller may
 * read), so coming online while the tab is still hidden does not resume. `window` and `document`
 * default to the page's own (`undefined` asks for them); `null` is none. Returns a function that
 * removes every listener it added.
 */
export function watchEnvironment(
	window: WindowLike | null | undefined = (globalThis as { window?: WindowLike }).window,
	document: DocumentLike | null | undefined = (globalThis as { document?: DocumentLike }).document,
	handlers: EnvironmentHandlers,
	blockers = new Set<PauseReason>()
): () => void {
	// Offline or frozen, no connection can work; hidden, the current one may stay.
	const block = (blocker: PauseReason) => {
		blockers.add(blocker);
		handlers.pause(blocker != 'hidden');
	};
	const unblock = (blocker: PauseReason) => {
		blockers.delete(blocker);
		if (!blockers.size) handlers.resume();
		handlers.check();
	};
	const listeners: [
		EnvironmentTarget | null | undefined,
		string,
		(event: EnvironmentEvent) => void
	][] = [
		[window, 'offline', () => block('offline')],
		[window, 'online', () => unblock('offline')],
		[window, 'pagehide', (event) => event.persisted && block('frozen')],
		[window, 'pageshow', (event) => event.persisted && unblock('frozen')],
		[
			document,
			'visibilitychange',
			() => (document?.visibilityState == 'hidden' ? block('hidden') : unblock('hidden'))
		]
	];
	if (window?.navigator?.onLine === false) block('offline');
	if (document?.visibilityState == 'hidden') block('hidden');
	for (const [target, type, listener] of listeners) target?.addEventListener(type, listener);
	return () => {
		for (const [target, type, listener] of listeners) target?.removeEventListener(type, listener);
	};
}
