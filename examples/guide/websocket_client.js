// The integration guide's "WebSocket Client", run in Node on the npm `ws` package against the
// bridge's JSON-RPC WebSocket at /ws.
//
// Changed from the guide, and why:
// - Nothing of the class: it is the guide's, line for line. The guide leaves `WebSocket`
//   undefined and listens with `this.ws.on('message')`, the npm `ws` package's API (a browser's
//   WebSocket has no `.on`), so the first line below requires that package.
// - Added after the class, because the guide stops there: `module.exports`, so a program can
//   require the class, and a main that runs it against a bridge. The class's constructor takes
//   only a URL, so with a key (MCP_API_KEY) the main first asks the bridge for a single-use
//   ticket (POST /mcp/stream/tickets) and opens /ws?ticket=…; without one (a bridge with no
//   keys) it opens /ws. `callTool` sends at once, so the main waits for the socket to open,
//   then calls the demo's process_data as the guide's other clients do, and eight at once.
// Run it (Node 18 or newer; `ws` installed where Node finds it):
//   MCP_BRIDGE_URL=http://127.0.0.1:8000 node examples/guide/websocket_client.js
const WebSocket = require('ws');

class MCPWebSocketClient {
  constructor(url) {
    this.ws = new WebSocket(url);
    this.requestId = 0;
    this.pending = new Map();
    
    this.ws.on('message', (data) => {
      const response = JSON.parse(data);
      const handler = this.pending.get(response.id);
      if (handler) {
        handler(response);
        this.pending.delete(response.id);
      }
    });
  }
  
  async callTool(name, params) {
    return new Promise((resolve, reject) => {
      const id = ++this.requestId;
      
      this.pending.set(id, (response) => {
        if (response.error) {
          reject(new Error(response.error.message));
        } else {
          resolve(response.result);
        }
      });
      
      this.ws.send(JSON.stringify({
        jsonrpc: "2.0",
        method: "tools/call",
        params: { name, arguments: params },
        id
      }));
    });
  }
}

module.exports = { MCPWebSocketClient, socketUrl };

// The bridge's /ws URL, with a fresh ticket when there is a key to ask for one with.
async function socketUrl(base = process.env.MCP_BRIDGE_URL ?? 'http://localhost:8000', key = process.env.MCP_API_KEY) {
  base = base.replace(/\/mcp\/?$/, '').replace(/\/$/, '');
  let query = '';
  if (key) {
    const answer = await fetch(base + '/mcp/stream/tickets', { method: 'POST', headers: { 'X-API-Key': key } });
    if (answer.status !== 201) throw new Error(`no ticket: ${answer.status} ${await answer.text()}`);
    query = '?ticket=' + encodeURIComponent((await answer.json()).ticket);
  }
  return base.replace(/^http/, 'ws') + '/ws' + query;
}

async function main() {
  const client = new MCPWebSocketClient(await socketUrl());
  await new Promise((resolve, reject) => {
    client.ws.once('open', resolve);
    client.ws.once('error', reject);
  });
  const result = await client.callTool('process_data', { input: 'test data', format: 'json' });
  console.log('Result:', JSON.stringify(result.structuredContent));
  const many = await Promise.all(
    Array.from({ length: 8 }, (_, i) => client.callTool('process_data', { input: `item ${i}`, format: 'json' }))
  );
  console.log('Eight at once:', many.map((r) => r.structuredContent.value).join(', '));
  client.ws.close();
}

if (require.main === module) {
  main().catch((error) => {
    console.error(error);
    process.exit(1);
  });
}
