// The guide's Go example, built against the generated client in this repository.
module mcp-rest-bridge.dev/examples/guide

go 1.19

require mcp-rest-bridge.dev/client v0.0.0

replace mcp-rest-bridge.dev/client => ../../../generated/go
