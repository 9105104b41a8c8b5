/**
 * `trd-mcp`: the network's MCP tools over stdio, for an agent on this machine.
 * It reaches the gateway at TRD_GATEWAY_URL with the API key in TRD_API_KEY.
 */
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import { createTrdMcpServer } from './mcp.js';

const apiKey = process.env.TRD_API_KEY;
if (!apiKey) {
  // stdout carries the protocol: anything for a human goes to stderr.
  console.error('trd-mcp: set TRD_API_KEY to your API key (and TRD_GATEWAY_URL, default http://localhost:8080)');
  process.exit(2);
}
await createTrdMcpServer({ baseUrl: process.env.TRD_GATEWAY_URL || 'http://localhost:8080', apiKey }).connect(new StdioServerTransport());
