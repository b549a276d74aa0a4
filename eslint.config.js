import js from '@eslint/js';
import prettier from 'eslint-config-prettier';
import svelte from 'eslint-plugin-svelte';
import globals from 'globals';
import ts from 'typescript-eslint';
import svelteConfig from './svelte.config.js';

export default ts.config(
	{ ignores: ['build/', 'dist/', '.svelte-kit/', 'test-results/', 'playwright-report/'] },
	js.configs.recommended,
	...ts.configs.recommended,
	...svelte.configs.recommended,
	prettier,
	...svelte.configs.prettier,
	{
		languageOptions: { globals: { ...globals.browser, ...globals.node } },
		rules: {
			'no-undef': 'off',
			'@typescript-eslint/no-explicit-any': 'error',
			'@typescript-eslint/no-unused-vars': [
				'error',
				{ argsIgnorePattern: '^_', ignoreRestSiblings: true }
			]
		}
	},
	// The dependency arrows of src/lib point one way: protocol ← client ← svelte, protocol ← server ← vite,
	// protocol ← server ← redis.
	...[
		['src/lib/protocol/**', ['**/client/**', '**/server/**', '**/vite/**', '**/svelte/**']],
		['src/lib/client/**', ['**/server/**', '**/vite/**', '**/svelte/**', 'ws']],
		['src/lib/server/**', ['**/client/**', '**/svelte/**', '**/vite/**']],
		['src/lib/svelte/**', ['**/server/**', '**/vite/**']],
		// runesocket/redis: engine types from ../server, helpers from ../protocol, and ioredis.
		[
			'src/lib/redis/**',
			[
				'**/client/**',
				'**/svelte/**',
				'**/vite/**',
				'svelte',
				'svelte/*',
				'vite',
				'$app/*',
				'$lib/*'
			]
		]
	].map(([folder, forbidden]) => ({
		files: [folder],
		rules: {
			'no-restricted-imports': [
				'error',
				{
					patterns: [
						{ group: forbidden, message: 'Imports in src/lib point one way (README: Layout).' }
					]
				}
			]
		}
	})),
	{
		files: ['**/*.svelte', '**/*.svelte.ts', '**/*.svelte.js'],
		languageOptions: {
			parserOptions: {
				projectService: true,
				extraFileExtensions: ['.svelte'],
				parser: ts.parser,
				svelteConfig
			}
		}
	}
);
