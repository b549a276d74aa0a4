import { describe, expect, it } from 'vitest';
import { invisibleTextRefusal, visibleText } from '../../../src/demo/text.js';

// What the demo's forms accept as a name, a title or an update: text that shows as it reads.

describe('visibleText', () => {
	it('keeps ordinary names of any script, in NFC, trimmed', () => {
		for (const name of [
			'Ada Lovelace',
			"Seán O'Brien",
			'Zoë',
			'Łukasz',
			'Анна',
			'Ελένη',
			'李小龍',
			'山田 太郎',
			'김민준',
			'محمد',
			'דוד',
			'अनुराग',
			'สมชาย',
			'Ada 👩‍💻',
			'José-María (ops) #2'
		])
			expect(visibleText(` ${name} `)).toBe(name);
		// A joiner inside a word, as Persian and the Indic scripts write it.
		expect(visibleText('محمد\u200Cرضا')).toBe('محمد\u200Cرضا');
		expect(visibleText('क्\u200Dष')).toBe('क्\u200Dष');
		// One name is one sequence of code points, however it was typed.
		expect(visibleText('Zoe\u0308')).toBe('Zoë');
	});

	it('refuses control, format, bidi and zero-width characters, NUL and separators', () => {
		for (const hostile of [
			'Ada\u0000',
			'Ada\u0007',
			'Ada\tLovelace',
			'Ada\nLovelace',
			'Ada\u001b[31m',
			'Ada\u007f',
			'Ada\u0085',
			'Ada\u202Eecalevol', // right-to-left override
			'\u202Aembedded\u202C',
			'\u2066isolate\u2069',
			'Ada\u200E',
			'Ada\u061C',
			'A\u200Bda', // zero-width space
			'\u200DAda', // a joiner outside a word
			'Ada \u200C',
			'A\u2060da', // word joiner
			'A\u00ADda', // soft hyphen
			'Ada\u2028',
			'Ada\u2029',
			'Ada\uFEFFLovelace',
			'Ada\uE000',
			'Ada\uD800'
		])
			expect(visibleText(hostile), JSON.stringify(hostile)).toBeUndefined();
	});

	it('says what is wrong in words for the form', () => {
		expect(invisibleTextRefusal('name')).toMatch(/^The name has invisible or control characters/);
	});
});
