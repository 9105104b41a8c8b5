#!/usr/bin/env node
// Runs the TypeScript source through tsx, as trd-worker does: no build step.
import { register } from 'tsx/esm/api';

register();
await import('../mcp-stdio.ts');
