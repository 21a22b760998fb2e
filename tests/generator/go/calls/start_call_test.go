// The checked-in Go client starts asynchronous calls on a live bridge in front of the calls test
// server (tests/servers/calls_server.py, as server "calls"): copied beside generated/go and run
// with `go test` by tests/generator/test_start_call.py, which passes MCP_BRIDGE_URL and
// MCP_BRIDGE_KEY.
package mcpbridge_test

import (
	"context"
	"errors"
	"net/http"
	"os"
	"sync"
	"testing"
	"time"

	mcpbridge "mcp-rest-bridge.dev/client"
)

// recorder keeps the headers of every request a client sends.
type recorder struct {
	mu   sync.Mutex
	sent []http.Header
}

func (r *recorder) RoundTrip(request *http.Request) (*http.Response, error) {
	r.mu.Lock()
	r.sent = append(r.sent, request.Header.Clone())
	r.mu.Unlock()
	return http.DefaultTransport.RoundTrip(request)
}

func (r *recorder) last() http.Header {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.sent[len(r.sent)-1]
}

func calls(t *testing.T) (*mcpbridge.Client, *recorder) {
	t.Helper()
	url := os.Getenv("MCP_BRIDGE_URL")
	if url == "" {
		t.Fatal("MCP_BRIDGE_URL is not set; tests/generator/test_start_call.py runs this against a live bridge")
	}
	seen := &recorder{}
	client := mcpbridge.NewClient(url, mcpbridge.WithAPIKey(os.Getenv("MCP_BRIDGE_KEY")),
		mcpbridge.WithHTTPClient(&http.Client{Transport: seen}), mcpbridge.WithRetry(2, 10*time.Millisecond))
	return client, seen
}

func text(t *testing.T, result *mcpbridge.ToolResult) string {
	t.Helper()
	if result == nil || len(result.Content) != 1 || result.Content[0].TextContent == nil {
		t.Fatalf("want one text block, got %+v", result)
	}
	return result.Content[0].TextContent.Text
}

func TestStartCallAnswersTheCallAndPollingItEndsCompleted(t *testing.T) {
	client, seen := calls(t)
	started, err := client.StartCall("slow", map[string]interface{}{"seconds": 0.4, "steps": 2})
	if err != nil {
		t.Fatal(err)
	}
	if started.Result != nil || started.Call == nil || started.Call.State != mcpbridge.CallStateWorking || started.Call.Tool != "slow" {
		t.Fatalf("started: %+v", started)
	}
	sent := seen.last()
	if sent.Get("Prefer") != "respond-async" || len(sent.Get("Idempotency-Key")) != 36 || sent.Get("Callback-Url") != "" {
		t.Fatalf("sent: %v", sent)
	}
	deadline := time.Now().Add(20 * time.Second)
	call := started.Call
	for call.State == mcpbridge.CallStateWorking && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
		if call, err = client.API.GetCall(started.Call.ID); err != nil {
			t.Fatal(err)
		}
	}
	if call.State != mcpbridge.CallStateCompleted || text(t, call.Result) != "worked 0.4 s" {
		t.Fatalf("call: %+v", call)
	}
}

func TestStartCallWithAWaitThatEndsInTimeAnswersTheResult(t *testing.T) {
	client, seen := calls(t)
	started, err := client.StartCall("slow", map[string]interface{}{"seconds": 0, "steps": 1},
		mcpbridge.OnServer("calls"), mcpbridge.WaitFor(4500*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	if started.Call != nil || text(t, started.Result) != "worked 0 s" {
		t.Fatalf("started: %+v", started)
	}
	if prefer := seen.last().Get("Prefer"); prefer != "respond-async, wait=5" {
		t.Fatalf("Prefer: %q", prefer)
	}
}

func TestStartCallWithOneIdempotencyKeyStartsOneCall(t *testing.T) {
	client, seen := calls(t)
	ctx := mcpbridge.WithIdempotencyKey(context.Background(), "go-start-call-once")
	args := map[string]interface{}{"seconds": 0}
	first, err := client.StartCallContext(ctx, "calls.slow", args)
	if err != nil {
		t.Fatal(err)
	}
	again, err := client.StartCallContext(ctx, "calls.slow", args)
	if err != nil {
		t.Fatal(err)
	}
	if first.Call == nil || again.Call == nil || again.Call.ID != first.Call.ID {
		t.Fatalf("first %+v, again %+v", first.Call, again.Call)
	}
	if key := seen.last().Get("Idempotency-Key"); key != "go-start-call-once" {
		t.Fatalf("Idempotency-Key: %q", key)
	}
}

func TestStartCallIsRefusedWithTheSameProblemsAsACall(t *testing.T) {
	client, _ := calls(t)
	_, err := client.StartCall("slow", map[string]interface{}{"seconds": 0}, mcpbridge.CallbackURL("https://example.com/done"))
	var problem *mcpbridge.ProblemError
	if !errors.As(err, &problem) || problem.Status != 400 || len(problem.Errors) != 1 || problem.Errors[0].Pointer != "/header/Callback-Url" {
		t.Fatalf("callback without a secret: %v", err)
	}
	_, err = client.StartCall("nope", nil, mcpbridge.OnServer("calls"))
	if !errors.As(err, &problem) || problem.Status != 404 || problem.Detail != "server 'calls' has no tool named 'nope'" {
		t.Fatalf("unknown tool: %v", err)
	}
}
