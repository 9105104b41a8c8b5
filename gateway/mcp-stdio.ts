/**
 * `trd-mcp`: the network's MCP tools over stdio, for an agent on this machine.
 * It reaches the gateway at TRD_GATEWAY_URL with the API key in TRD_API_KEY.
 */
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import { createTrdMcpServer, registerAgentTools } from './mcp.js';

const apiKey = process.env.TRD_API_KEY;
if (!apiKey) {
  // stdout carries the protocol: anything for a human goes to stderr.
  console.error('trd-mcp: set TRD_API_KEY to your API key (and TRD_GATEWAY_URL, default http://localhost:8080)');
  process.exit(2);
}
const access = { baseUrl: process.env.TRD_GATEWAY_URL || 'http://localhost:8080', apiKey };
const server = createTrdMcpServer(access);
// The published agents when it starts: restart trd-mcp to see agents published since.
await registerAgentTools(server, access);
await server.connect(new StdioServerTransport());
