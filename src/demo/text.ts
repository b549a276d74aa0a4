/**
 * A zero-width joiner or non-joiner between two letters, marks or pictographs: how Persian, the
 * Indic scripts and emoji sequences are written, so it is part of an ordinary name there.
 */
const WORD_JOINER =
	/(?<=[\p{L}\p{M}\p{Extended_Pictographic}])[\u200C\u200D](?=[\p{L}\p{M}\p{Extended_Pictographic}])/gu;

/**
 * What no one's name or words need, and what makes text show other than it reads: control
 * characters (Cc: NUL, tabs, escapes), format characters (Cf: every bidirectional control such as
 * U+202E, zero-width spaces and joiners, soft hyphens), line and paragraph separators, lone
 * surrogates and private-use characters.
 */
const INVISIBLE_OR_CONTROL = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}\p{Cs}\p{Co}]/u;

/**
 * `raw` as text a page can show as it reads: trimmed and in Unicode NFC (so one name is one
 * sequence of code points however it was typed), or `undefined` when it holds control, format
 * (bidirectional overrides, zero-width characters) or other invisible characters. Letters of any
 * script, digits, punctuation, symbols and emoji are kept, and so are the joiners inside a word.
 *
 * @example
 * ```ts
 * visibleText('  Zoë '); // 'Zoë'
 * visibleText('محمد\u200Cرضا'); // kept: a joiner inside a word
 * visibleText('Ada\u202Eecalevol'); // undefined: a right-to-left override
 * visibleText('Ada\u0000'); // undefined
 * ```
 */
export function visibleText(raw: string): string | undefined {
	const text = raw.normalize('NFC');
	// Checked before trimming, which would quietly drop a trailing separator or zero-width no-break space.
	return INVISIBLE_OR_CONTROL.test(text.replace(WORD_JOINER, '')) ? undefined : text.trim();
}

/**
 * What a form says when `visibleText` refused what was typed into `field`.
 *
 * @example
 * ```ts
 * invisibleTextRefusal('name'); // 'The name has invisible or control characters …'
 * ```
 */
export function invisibleTextRefusal(field: string): string {
	return (
		`The ${field} has invisible or control characters (such as zero-width spaces or ` +
		'text-direction overrides): type it again with letters, digits and punctuation.'
	);
}
