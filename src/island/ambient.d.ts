// `import url from './entry.ts?island'` (src/island/vite.ts): the URL of the bundled browser entry.
declare module '*?island' {
	const url: string;
	export default url;
}
