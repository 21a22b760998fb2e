// The integration guide's "Go Client", run on this project's generated Go client.
//
// Changed from the guide, and why:
//
//   - The import: "github.com/mcp/go-client" does not exist. Ours is the module
//     mcp-rest-bridge.dev/client (generated/go, written by `mcp-bridge generate go`; go.mod's
//     replace directive points at it), imported as mcp, the name the guide calls it by. Its
//     NewClient, ListTools and CallTool are the guide's.
//   - The imports the guide leaves out: fmt and log, which the code uses, and os for the URL.
//   - The URL: read from MCP_BRIDGE_URL (bridgeURL, below main), with the guide's URL as the
//     default, so the example runs against a bridge anywhere.
//
// The rest keeps the guide's lines and formatting (so gofmt would re-indent it).
//
// Run it against `make run`: `cd examples/guide/go && go run .`
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
        "input": "test data",
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
