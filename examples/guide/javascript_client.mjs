// The integration guide's "JavaScript Client", run on this project's generated TypeScript client.
//
// Changed from the guide, and why:
// - The import line: '@mcp/client' is a made-up package. Ours is mcp-bridge-client, the client
//   `mcp-bridge generate typescript` writes (generated/typescript/mcp-bridge-client; `npm pack` it
//   and `npm install` the tarball). Its class is Client, imported here under the guide's name.
// - The URL: the guide hard-codes http://localhost:8000/mcp; it is read from MCP_BRIDGE_URL, with
//   the guide's URL as the default, so the example runs against a bridge anywhere.
// Nothing else changed. Run it as an ES module (top-level await), on Node 18 or newer:
//   node javascript_client.mjs
import { Client as MCPClient } from 'mcp-bridge-client';

// Initialize client
const client = new MCPClient({
  url: process.env.MCP_BRIDGE_URL ?? 'http://localhost:8000/mcp',
  apiKey: process.env.MCP_API_KEY
});

// List tools
const tools = await client.listTools();
tools.forEach(tool => {
  console.log(`Tool: ${tool.name} - ${tool.description}`);
});

// Call tool
const result = await client.callTool('process_data', {
  input: 'test data',
  format: 'json'
});
console.log('Result:', result);

// Get resource
const resource = await client.getResource('config://settings');
console.log('Settings:', resource);
