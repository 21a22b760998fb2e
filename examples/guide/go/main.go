// The integration guide's Go example ("Client Libraries" → "Go Client"), kept as the guide has
// it but for these changes, so that it builds and can be run by a test:
//   - the import path "github.com/mcp/go-client" is the generated client's module instead,
//     mcp-rest-bridge.dev/client (generated/go, which go.mod's replace directive points at),
//     named mcp as the guide calls it;
//   - the imports the guide leaves out, fmt and log, are added, and os for the next change;
//   - the URL is read from MCP_BRIDGE_URL, with the guide's http://localhost:8000/mcp as the
//     default, so that a test can run it against a bridge on any free port;
//   - gofmt has indented it with tabs where the guide has spaces.
//
// Run it against a bridge: `mcp-bridge serve --port 8000`, then `go run .` here.
package main

import (
	"fmt"
	"log"
	"os"

	mcp "mcp-rest-bridge.dev/client"
)

func main() {
	// Initialize client
	client := mcp.NewClient(bridgeURL("http://localhost:8000/mcp"))

	// List tools
	tools, err := client.ListTools()
	if err != nil {
		log.Fatal(err)
	}

	for _, tool := range tools {
		fmt.Printf("Tool: %s - %s\n", tool.Name, tool.Description)
	}

	// Call tool
	result, err := client.CallTool("process_data", map[string]interface{}{
		"input":  "test data",
		"format": "json",
	})

	if err != nil {
		log.Fatal(err)
	}

	fmt.Printf("Result: %v\n", result)
}

// bridgeURL is MCP_BRIDGE_URL when it is set, else the guide's URL.
func bridgeURL(guide string) string {
	if url := os.Getenv("MCP_BRIDGE_URL"); url != "" {
		return url
	}
	return guide
}
