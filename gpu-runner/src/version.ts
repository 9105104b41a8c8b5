/** This runner's version: the package's own, sent at login and with every heartbeat (the platform's update notices compare it). */
import { readFileSync } from 'node:fs';

export const RUNNER_VERSION: string = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')).version;
