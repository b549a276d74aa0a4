import { isRecord, AUTH_MESSAGE } from '../../protocol/envelope.js';
import { safeJsonParse } from '../../protocol/safe-json.js';

/**
 * The token in a connection's first frame: `{"name":"auth","data":{"token":"…"}}`, or the frame
 * itself when it is a bare token (not JSON, or a JSON string). `undefined` for anything else.
 */
export function tokenFromFirstFrame(frame: string): string | undefined {
	let parsed: unknown;
	try {
		parsed = safeJsonParse(frame);
	} catch {
		return frame.trim() || undefined;
	}
	if (typeof parsed == 'string') return parsed || undefined;
	if (!isRecord(parsed) || parsed.name != AUTH_MESSAGE || !isRecord(parsed.data)) return undefined;
	const { token } = parsed.data;
	return typeof token == 'string' && token ? token : undefined;
}
