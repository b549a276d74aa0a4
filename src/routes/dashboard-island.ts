// The dashboard's only JavaScript: the page is server-rendered without SvelteKit's client
// (+page.server.ts: csr = false), and this hydrates the dashboard in it. +page.server.ts imports it
// as './dashboard-island.ts?island' to get its URL.
import { hydrateIsland } from '../island/client.js';
import Dashboard from './components/Dashboard.svelte';

hydrateIsland('dashboard', Dashboard);
