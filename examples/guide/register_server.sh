#!/bin/sh
# The integration guide's "Register with Gateway": one POST /servers to the bridge, with curl.
#
# Changed from the guide, and why:
# - The URLs are placeholders: the bridge's is read from MCP_BRIDGE_URL and the server's from
#   MY_SERVER_URL, each with the guide's URL as the default.
# - The server's token: the guide writes "${SERVER_TOKEN}" inside the single-quoted body, where
#   the shell never expands it, so the gateway would be given the literal text ${SERVER_TOKEN}.
#   Here the quote is closed around it ('"${SERVER_TOKEN}"'), and the same for MY_SERVER_URL.
#
# GATEWAY_TOKEN must be an admin key of the bridge (mcp-bridge serve --admin-key "$GATEWAY_TOKEN");
# SERVER_TOKEN is what the bridge sends the server as "Authorization: Bearer". The bridge answers
# 201 with the server's state once it answered as an MCP server (see README, "Gateway").
#   GATEWAY_TOKEN=... SERVER_TOKEN=... MCP_BRIDGE_URL=http://127.0.0.1:8000 \
#   MY_SERVER_URL=http://127.0.0.1:9000/mcp sh examples/guide/register_server.sh

# Register server
curl -X POST ${MCP_BRIDGE_URL:-http://gateway.example.com}/servers \
  -H "Authorization: Bearer ${GATEWAY_TOKEN}" \
  -H "Content-Type: application/json" \
  -d '{
    "name": "my-server",
    "url": "'"${MY_SERVER_URL:-http://my-server:8000/mcp}"'",
    "transport": "http",
    "authentication": {
      "type": "bearer",
      "token": "'"${SERVER_TOKEN}"'"
    }
  }'
