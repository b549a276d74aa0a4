/**
 * A compiled route path: `/ws` matches exactly, `/ws/:project` captures a segment, and a trailing
 * `/*` matches any rest. The query string is ignored.
 */
export class RoutePattern {
	readonly source: string;
	#regexp: RegExp;
	#names: string[] = [];

	constructor(source: string) {
		if (typeof source != 'string' || !source.startsWith('/')) {
			throw new TypeError(`A route path must be a string starting with "/", got ${String(source)}`);
		}
		this.source = source;
		const body = source
			.split('/')
			.map((segment, index, segments) => {
				if (segment == '*' && index == segments.length - 1) return '.*';
				if (!segment.startsWith(':')) return segment.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
				this.#names.push(segment.slice(1));
				return '([^/]+)';
			})
			.join('/');
		this.#regexp = new RegExp(`^${body}$`);
	}

	/** Whether `url`'s path has this route's shape (its parameters may still be malformed). */
	test(url: string): boolean {
		return this.#regexp.test(url.split('?')[0]);
	}

	/**
	 * The captured parameters when `url` matches, else `undefined`. Throws a `URIError` when a
	 * parameter is not valid percent-encoding (`/ws/%E0`): the caller answers that request with 400.
	 */
	match(url: string): Record<string, string> | undefined {
		const found = this.#regexp.exec(url.split('?')[0]);
		if (!found) return undefined;
		const params: Record<string, string> = {};
		this.#names.forEach((name, index) => (params[name] = decodeURIComponent(found[index + 1])));
		return params;
	}
}
