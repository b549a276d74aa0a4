#!/usr/bin/env node
// Prints the hardening suite's attacks (test-results/attacks.jsonl, one row per attack, written by
// tests/kit/attack/attack-summary.ts) as one Markdown table with totals, and exits 1 when any attack
// crashed the server or cost the well-behaved client a message.
//
//   node scripts/soak-summary.mjs          print the table
//   node scripts/soak-summary.mjs --reset  forget earlier rows (`npm run soak` starts with this)
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const FILE = fileURLToPath(new URL('../test-results/attacks.jsonl', import.meta.url));

if (process.argv.includes('--reset')) {
	rmSync(FILE, { force: true });
	process.exit(0);
}

if (!existsSync(FILE)) {
	console.log(`No attacks recorded (${FILE} does not exist): run the hardening tests first.`);
	process.exit(1);
}

const rows = readFileSync(FILE, 'utf8')
	.split('\n')
	.filter((line) => line.trim())
	.map((line) => JSON.parse(line));

const number = (value) => (Number.isFinite(value) ? value.toLocaleString('en-US') : String(value));
const megabytes = (value) => (Number.isFinite(value) ? value.toFixed(1) : '—');

const header = [
	'attack',
	'inputs',
	'survived',
	'RSS before/after (MB)',
	'well-behaved client lost',
	'longest stall (ms)'
];
const lines = rows.map((row) => [
	row.attack,
	number(row.inputs),
	row.survived ? 'yes' : '**no**',
	`${megabytes(row.rssBeforeMb)} / ${megabytes(row.rssAfterMb)}`,
	number(row.lost),
	number(row.longestStallMs)
]);
const widths = header.map((title, column) =>
	Math.max(title.length, ...lines.map((line) => line[column].length))
);
const format = (cells) =>
	`| ${cells.map((cell, column) => cell.padEnd(widths[column])).join(' | ')} |`;

console.log(format(header));
console.log(`|${widths.map((width) => '-'.repeat(width + 2)).join('|')}|`);
for (const line of lines) console.log(format(line));

const crashes = rows.filter((row) => !row.survived).length;
const lost = rows.reduce((total, row) => total + (Number(row.lost) || 0), 0);
const fuzzed = rows
	.filter((row) => row.attack.startsWith('fuzz:'))
	.reduce((total, row) => total + (Number(row.inputs) || 0), 0);
const longestStall = Math.max(0, ...rows.map((row) => Number(row.longestStallMs) || 0));
console.log(
	`\n${rows.length} attacks, ${number(fuzzed)} fuzzed frames: ${crashes} crashed or hung, ` +
		`${number(lost)} messages lost by the well-behaved client, longest stall ${number(longestStall)} ms`
);
process.exit(crashes > 0 || lost > 0 ? 1 : 0);
