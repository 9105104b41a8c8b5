#!/usr/bin/env node
// trd-worker with fault injection and the cheats (TRD_RUNNER_FAULTS), for the platform's tests only:
// this folder is not in the published package (package.json "files").
import { register } from 'tsx/esm/api';

register();
const { main } = await import('./main.ts');
process.exitCode = await main(process.argv);
