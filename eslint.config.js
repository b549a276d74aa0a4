import js from '@eslint/js';
import prettier from 'eslint-config-prettier';
import svelte from 'eslint-plugin-svelte';
import globals from 'globals';
import cycles from './scripts/eslint/no-import-cycle.js';
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
	// The dependency arrows of src/lib point one way (README: Layout): protocol ← client ← svelte,
	// protocol ← engine ← server ← vite, engine ← redis; the demo uses only the public entries.
	...[
		[
			'src/lib/protocol/**',
			['**/client/**', '**/engine/**', '**/server/**', '**/redis/**', '**/vite/**', '**/svelte/**']
		],
		[
			'src/lib/client/**',
			['**/engine/**', '**/server/**', '**/redis/**', '**/vite/**', '**/svelte/**', 'ws']
		],
		['src/lib/svelte/**', ['**/engine/**', '**/server/**', '**/redis/**', '**/vite/**']],
		['src/lib/compat/**', ['**/engine/**', '**/server/**', '**/redis/**', '**/vite/**']],
		[
			'src/lib/engine/**',
			['**/client/**', '**/server/**', '**/redis/**', '**/vite/**', '**/svelte/**', 'ws']
		],
		['src/lib/server/**', ['**/client/**', '**/redis/**', '**/svelte/**', '**/vite/**']],
		[
			'src/lib/redis/**',
			[
				'**/client/**',
				'**/server/**',
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
	// No import cycles between files, type-only imports included, in the library and the demo.
	{
		files: ['src/**/*.ts', 'src/**/*.js'],
		plugins: { project: cycles },
		rules: { 'project/no-import-cycle': 'error' }
	},
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
