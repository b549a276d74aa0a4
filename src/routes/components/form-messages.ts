/** What a form says when its submission never reached the server (offline, or the server is down). */
export const NOT_SENT = 'Not sent: the server cannot be reached. Try again in a moment.';

/** The message of an action's refusal (`fail(status, { <form>: message })`), whichever form sent it. */
export function refusal(data: Record<string, unknown> | undefined): string {
	const message = Object.values(data ?? {}).find((value) => typeof value == 'string');
	return typeof message == 'string' ? message : 'The server refused that.';
}
