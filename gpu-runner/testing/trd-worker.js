#!/usr/bin/env node
// trd-worker with fault injection and the cheats (TRD_RUNNER_FAULTS), for the platform's tests only: its
// compiled form (gpu-runner/dist/testing, `npm run build`), which the published package leaves out.
const { main } = await import('../dist/testing/main.js');
process.exitCode = await main(process.argv);
