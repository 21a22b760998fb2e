// Tool calls of a Go client generated from a live bridge's /openapi.json, through a proxy that
// loses the bridge's first answer after the tool ran (tests/idempotency/test_client_retries.py
// starts both and passes MCP_PROXY_URL, MCP_BRIDGE_KEY and MCP_AMOUNTS). Every call must answer
// as though nothing was lost; the Python test then reads the ledger: each tool ran once.
package mcpbridge_test

import (
	"context"
	"encoding/json"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	mcpbridge "mcp-rest-bridge.dev/client"
)

func TestRetriedToolCallsRunOnce(t *testing.T) {
	url, key := os.Getenv("MCP_PROXY_URL"), os.Getenv("MCP_BRIDGE_KEY")
	amounts := strings.Split(os.Getenv("MCP_AMOUNTS"), ",")
	if url == "" || len(amounts) != 3 {
		t.Fatal("MCP_PROXY_URL and MCP_AMOUNTS are not set; tests/idempotency/test_client_retries.py runs this")
	}
	number := func(i int) int64 {
		n, err := strconv.ParseInt(amounts[i], 10, 64)
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	client := mcpbridge.NewClient(url, mcpbridge.WithAPIKey(key), mcpbridge.WithRetry(3, 10*time.Millisecond))

	generic, err := client.CallTool("pay", map[string]interface{}{"amount": number(0)})
	if err != nil {
		t.Fatalf("CallTool: %v", err)
	}
	paid(t, generic.StructuredContent, number(0))

	typed, err := client.Tools.CallLedgerPay(mcpbridge.CallLedgerPayInput{Amount: number(1)})
	if err != nil {
		t.Fatalf("CallLedgerPay: %v", err)
	}
	paid(t, map[string]interface{}(typed.Structured), number(1))

	if _, err := client.Tools.CallLedgerBalance(mcpbridge.CallLedgerBalanceInput{}); err != nil {
		t.Fatalf("CallLedgerBalance: %v", err)
	}

	own := mcpbridge.WithIdempotencyKey(context.Background(), "go-"+amounts[2])
	mine, err := client.CallToolContext(own, "ledger.pay", map[string]interface{}{"amount": number(2)})
	if err != nil {
		t.Fatalf("CallToolContext with the caller's key: %v", err)
	}
	paid(t, mine.StructuredContent, number(2))
}

func paid(t *testing.T, structured interface{}, want int64) {
	t.Helper()
	encoded, err := json.Marshal(structured)
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		Paid int64 `json:"paid"`
	}
	if err := json.Unmarshal(encoded, &got); err != nil || got.Paid != want {
		t.Fatalf("want paid %d, got %s (%v)", want, encoded, err)
	}
}
