import type { DocumentLike, WindowLike } from '../../src/lib/client/environment.js';

// The page a Node test cannot have for real: stand-in targets on which a test dispatches the
// browser events it needs, while the socket and the server stay real.

/** A `window` stand-in: a real EventTarget with a settable `navigator.onLine`. */
export class FakeWindow extends EventTarget implements WindowLike {
	navigator: { onLine?: boolean } = { onLine: true };
}

/** A `document` stand-in: a real EventTarget with a settable `visibilityState`. */
export class FakeDocument extends EventTarget implements DocumentLike {
	visibilityState: string = 'visible';
}

/** `pagehide` / `pageshow`, which carry `persisted` (true when the page enters the back/forward cache). */
export class PageTransition extends Event {
	readonly persisted: boolean;
	constructor(type: 'pagehide' | 'pageshow', persisted: boolean) {
		super(type);
		this.persisted = persisted;
	}
}
