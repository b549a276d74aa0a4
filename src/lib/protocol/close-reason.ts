/** The most bytes a close frame's reason may carry (RFC 6455: 125 bytes of payload minus the 2-byte code). */
export const MAX_CLOSE_REASON_BYTES = 123;

/**
 * `reason` cut to at most 123 UTF-8 bytes without splitting a character, so it fits a close frame:
 * `ws` throws a RangeError for a longer one, and browsers a SyntaxError.
 */
export function closeReason(reason: string): string {
	if (reason.length * 3 <= MAX_CLOSE_REASON_BYTES) return reason;
	let bytes = 0;
	let end = 0;
	for (const character of reason) {
		const size = utf8Length(character.codePointAt(0)!);
		if (bytes + size > MAX_CLOSE_REASON_BYTES) break;
		bytes += size;
		end += character.length;
	}
	return reason.slice(0, end);
}

/** Bytes of one code point in UTF-8 (a lone surrogate is written as U+FFFD, also 3 bytes). */
function utf8Length(codePoint: number): number {
	if (codePoint < 0x80) return 1;
	if (codePoint < 0x800) return 2;
	return codePoint < 0x10000 ? 3 : 4;
}
