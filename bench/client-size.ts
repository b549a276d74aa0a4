// Bundle size of each client entry, minified with esbuild and gzipped at level 9, side by side with
// the anchors built the same way in the same run. Run: `npm run bench:size`.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { measureBundle } from './bundle.js';

const library = fileURLToPath(new URL('../src/lib/index.ts', import.meta.url));
const compat = fileURLToPath(new URL('../src/lib/compat/index.ts', import.meta.url));

/** An installed package's version, read from node_modules (some packages' exports hide package.json). */
function installedVersion(name: string): string {
	const manifest = new URL(`../node_modules/${name}/package.json`, import.meta.url);
	return (JSON.parse(readFileSync(manifest, 'utf8')) as { version: string }).version;
}

const entries: Record<string, string> = {
	'runesocket SocketClient': `export { SocketClient } from ${JSON.stringify(library)};`,
	'runesocket SocketClient + ClientMessage + events': `export { SocketClient, ClientMessage, Connected, Disconnected, ReconnectAttempt, ReconnectFailed } from ${JSON.stringify(library)};`,
	'runesocket SocketClient + Outbox': `export { SocketClient, Outbox } from ${JSON.stringify(library)};`,
	'runesocket/compat createWebSocket': `export { createWebSocket } from ${JSON.stringify(compat)};`,
	'runesocket everything': `export * from ${JSON.stringify(library)};`,
	'partysocket PartySocket': `export { PartySocket } from 'partysocket';`,
	'phoenix Socket': `export { Socket } from 'phoenix';`,
	'socket.io-client io': `export { io } from 'socket.io-client';`,
	'centrifuge Centrifuge': `export { Centrifuge } from 'centrifuge';`
};

const sizes = new Map<string, number>();
for (const [name, source] of Object.entries(entries))
	sizes.set(name, (await measureBundle(source)).gzipped);
const ours = sizes.get('runesocket SocketClient')!;
const anchors = ['partysocket', 'phoenix', 'socket.io-client', 'centrifuge', 'esbuild'];
console.log(
	`esbuild --minify (ESM, ES2022, browser), gzip -9; ${anchors.map((name) => `${name} ${installedVersion(name)}`).join(', ')}\n`
);
console.log('| bundle | min+gz bytes | vs SocketClient |');
console.log('|---|---|---|');
for (const [name, size] of sizes) {
	console.log(`| ${name} | ${size.toLocaleString('en')} | ${(size / ours).toFixed(2)}× |`);
}
