// A Go client generated from a live bridge's /openapi.json, against that bridge: every kind of
// operation, the typed tool methods, and the error answers as typed errors. Copied beside the
// generated module and run with `go test` by tests/generator/test_go_client.py, which starts the
// bridge (servers demo, time, alpha and beta (two rich test servers, so that echo is ambiguous),
// and dead, which never answers) and passes MCP_BRIDGE_URL, MCP_BRIDGE_KEY and MCP_CLOSED_URL.
package mcpbridge_test

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	mcpbridge "mcp-rest-bridge.dev/client"
)

func bridge(t *testing.T, opts ...mcpbridge.Option) *mcpbridge.Client {
	t.Helper()
	url := os.Getenv("MCP_BRIDGE_URL")
	if url == "" {
		t.Fatal("MCP_BRIDGE_URL is not set; tests/generator/test_go_client.py runs this against a live bridge")
	}
	defaults := []mcpbridge.Option{mcpbridge.WithAPIKey(os.Getenv("MCP_BRIDGE_KEY")), mcpbridge.WithRetry(1, 0)}
	return mcpbridge.NewClient(url+"/mcp", append(defaults, opts...)...)
}

func problemOf(t *testing.T, err error) *mcpbridge.ProblemError {
	t.Helper()
	var problem *mcpbridge.ProblemError
	if !errors.As(err, &problem) {
		t.Fatalf("want a *ProblemError, got %T: %v", err, err)
	}
	return problem
}

func TestListsServersAndTheirTools(t *testing.T) {
	client := bridge(t)
	servers, err := client.ListServers()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, server := range servers {
		names = append(names, server.Name)
	}
	sort.Strings(names)
	if !reflect.DeepEqual(names, []string{"alpha", "beta", "dead", "demo", "time"}) {
		t.Fatalf("servers: %v", names)
	}
	demo, err := client.GetServer("demo")
	if err != nil || demo.Status != mcpbridge.ServerInfoStatusReady || demo.Counts.Tools != 5 {
		t.Fatalf("demo: %+v %v", demo, err)
	}
	tools, err := client.ListTools()
	if err != nil {
		t.Fatal(err)
	}
	qualified := map[string]bool{}
	for _, tool := range tools {
		qualified[tool.QualifiedName] = true
	}
	if !qualified["demo.process_data"] || !qualified["alpha.echo"] || !qualified["beta.echo"] {
		t.Fatalf("tools: %v", qualified)
	}
	timeTools, err := client.ListServerTools("time")
	if err != nil || len(timeTools) != 2 {
		t.Fatalf("time's tools: %+v %v", timeTools, err)
	}
}

func TestCallsAToolByNameAndAServersTool(t *testing.T) {
	client := bridge(t)
	processed, err := client.CallTool("process_data", map[string]interface{}{"input": "test data", "format": "text"})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]interface{}{"kind": "text", "count": 1.0, "lines": 1.0, "words": 2.0, "characters": 9.0, "value": "test data"}
	if !reflect.DeepEqual(processed.StructuredContent, want) || processed.IsError {
		t.Fatalf("process_data: %+v", processed)
	}
	if processed.Content[0].TextContent == nil {
		t.Fatalf("content: %+v", processed.Content)
	}
	zone, err := client.CallServerTool("time", "get_current_time", map[string]interface{}{"timezone": "UTC"})
	if err != nil || zone.StructuredContent["timezone"] != "UTC" {
		t.Fatalf("get_current_time: %+v %v", zone, err)
	}
}

func TestTypedToolMethodsTakeAndAnswerStructs(t *testing.T) {
	client := bridge(t)
	analysis, err := client.Tools.CallDemoAnalyzeData(mcpbridge.CallDemoAnalyzeDataInput{
		Data:    mcpbridge.CallDemoAnalyzeDataInputData{Array: []float64{1, 2, 3, 4}},
		Metrics: []mcpbridge.CallDemoAnalyzeDataInputMetricsItem{mcpbridge.CallDemoAnalyzeDataInputMetricsItemMean, mcpbridge.CallDemoAnalyzeDataInputMetricsItemMax},
	})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(analysis.Structured, mcpbridge.CallDemoAnalyzeDataOutput{Metrics: map[string]float64{"mean": 2.5, "max": 4}, Count: 4}) {
		t.Fatalf("analysis: %+v", analysis.Structured)
	}
	booking, err := client.Tools.CallAlphaBookFlightContext(context.Background(), mcpbridge.CallAlphaBookFlightInput{
		Origin:      "AMS",
		Destination: "LIS",
		Travellers:  []mcpbridge.CallAlphaBookFlightPassenger{{FirstName: "Ada", LastName: "Lovelace", Age: 36}},
		Payment:     mcpbridge.CallAlphaBookFlightInputPayment{Voucher: &mcpbridge.CallAlphaBookFlightVoucher{Type: "voucher", Code: "SPRING24"}},
		Cabin:       mcpbridge.CallAlphaBookFlightInputCabinBusiness,
		Passengers:  mcpbridge.Ptr(int64(1)),
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := booking.Structured; got.Route != "AMS-LIS" || got.Cabin != "business" || got.PaidWith != "voucher" || len(got.Reference) != 8 {
		t.Fatalf("booking: %+v", got)
	}
	every, err := client.Tools.CallAlphaAllContent(mcpbridge.CallAlphaAllContentInput{})
	if err != nil {
		t.Fatal(err)
	}
	var kinds []string
	for _, block := range every.Result.Content {
		switch {
		case block.TextContent != nil:
			kinds = append(kinds, "text")
		case block.ImageContent != nil:
			kinds = append(kinds, "image")
		case block.AudioContent != nil:
			kinds = append(kinds, "audio")
		case block.EmbeddedResource != nil && block.EmbeddedResource.Resource.TextResourceContents != nil:
			kinds = append(kinds, "embedded text")
		case block.EmbeddedResource != nil && block.EmbeddedResource.Resource.BlobResourceContents != nil:
			kinds = append(kinds, "embedded blob")
		case block.ResourceLink != nil:
			kinds = append(kinds, "link")
		}
	}
	if !reflect.DeepEqual(kinds, []string{"text", "image", "audio", "embedded text", "embedded blob", "link"}) {
		t.Fatalf("content kinds: %v", kinds)
	}
}

func TestReadsResources(t *testing.T) {
	client := bridge(t)
	listed, err := client.ListResources()
	if err != nil {
		t.Fatal(err)
	}
	uris := map[string]string{}
	for _, resource := range listed.Resources {
		uris[resource.URI] = resource.Server
	}
	if uris["config://settings"] != "demo" || len(listed.ResourceTemplates) == 0 {
		t.Fatalf("resources: %+v", listed)
	}
	settings, err := client.GetResource("config://settings")
	if err != nil {
		t.Fatal(err)
	}
	var parsed map[string]interface{}
	text := settings.Contents[0].TextResourceContents
	if text == nil || json.Unmarshal([]byte(text.Text), &parsed) != nil || parsed["name"] != "demo" {
		t.Fatalf("settings: %+v", settings.Contents)
	}
	same, err := client.GetServerResource("demo", "config://settings")
	if err != nil || same.Contents[0].TextResourceContents.Text != text.Text {
		t.Fatalf("settings from demo: %+v %v", same, err)
	}
	raw, err := client.GetResourceBytes("demo", "data://samples/scores")
	if err != nil || json.Unmarshal(raw, &parsed) != nil || parsed["name"] != "scores" {
		t.Fatalf("scores: %s %v", raw, err)
	}
	pixel, err := client.GetServerResource("alpha", "bin://pixel.png")
	if err != nil || pixel.Contents[0].BlobResourceContents == nil {
		t.Fatalf("pixel: %+v %v", pixel, err)
	}
}

func TestListsAndRendersPrompts(t *testing.T) {
	client := bridge(t)
	prompts, err := client.ListServerPrompts("demo")
	if err != nil || len(prompts) != 1 || prompts[0].Name != "summarize_analysis" {
		t.Fatalf("demo's prompts: %+v %v", prompts, err)
	}
	all, err := client.ListPrompts()
	if err != nil || len(all) < 3 {
		t.Fatalf("prompts: %+v %v", all, err)
	}
	rendered, err := client.GetPrompt("summarize_analysis", map[string]string{"metrics_json": "{}"})
	if err != nil || rendered.Messages[0].Role != mcpbridge.PromptMessageRoleUser {
		t.Fatalf("summarize_analysis: %+v %v", rendered, err)
	}
	typed, err := client.Prompts.PromptDemoSummarizeAnalysis(mcpbridge.PromptDemoSummarizeAnalysisArguments{MetricsJSON: "{}", Audience: "ops"})
	if err != nil || typed.Messages[0].Content.TextContent == nil || !strings.Contains(typed.Messages[0].Content.TextContent.Text, "for ops") {
		t.Fatalf("typed prompt: %+v %v", typed, err)
	}
	greeting, err := client.GetServerPrompt("alpha", "greet", map[string]string{"name": "Ada"})
	if err != nil || !strings.Contains(greeting.Messages[0].Content.TextContent.Text, "Ada") {
		t.Fatalf("greet: %+v %v", greeting, err)
	}
}

func TestSpeaksPlainJSONRPC(t *testing.T) {
	client := bridge(t)
	pong, err := client.RPC("ping", nil)
	if err != nil || len(pong) != 0 {
		t.Fatalf("ping: %v %v", pong, err)
	}
	_, err = client.RPC("tools/call", map[string]interface{}{"name": "no_such_tool", "arguments": map[string]interface{}{}})
	var rpc *mcpbridge.RPCError
	if !errors.As(err, &rpc) || rpc.Code != -32602 {
		t.Fatalf("want an *RPCError, got %T: %v", err, err)
	}
}

func TestA400NamesEachWrongArgumentByPointer(t *testing.T) {
	_, err := bridge(t).CallServerTool("alpha", "add", map[string]interface{}{"a": "x", "b": 1})
	problem := problemOf(t, err)
	want := []mcpbridge.FieldError{{Pointer: "/body/a", Message: `"x" is not of type "integer"`}}
	if problem.Status != 400 || problem.Type != mcpbridge.ProblemTypeInvalidRequest || !reflect.DeepEqual(problem.Errors, want) {
		t.Fatalf("problem: %+v", problem)
	}
}

func TestAMissingKeyIsA401(t *testing.T) {
	_, err := mcpbridge.NewClient(os.Getenv("MCP_BRIDGE_URL"), mcpbridge.WithRetry(1, 0)).ListServers()
	problem := problemOf(t, err)
	if problem.Status != 401 || problem.Type != mcpbridge.ProblemTypeUnauthorized || !strings.HasPrefix(problem.WWWAuthenticate(), "Bearer") {
		t.Fatalf("problem: %+v", problem)
	}
}

func TestAnUnknownToolIsA404(t *testing.T) {
	_, err := bridge(t).CallServerTool("time", "nope", nil)
	problem := problemOf(t, err)
	if problem.Status != 404 || problem.Type != mcpbridge.ProblemTypeNotFound || problem.Detail != "server 'time' has no tool named 'nope'" {
		t.Fatalf("problem: %+v", problem)
	}
}

func TestABareNameTwoServersOfferIsA409WithTheCandidates(t *testing.T) {
	_, err := bridge(t).CallTool("echo", map[string]interface{}{"text": "hi"})
	problem := problemOf(t, err)
	if problem.Status != 409 || problem.Type != mcpbridge.ProblemTypeAmbiguousName {
		t.Fatalf("problem: %+v", problem)
	}
	if got := problem.Candidates(); !reflect.DeepEqual(got, []string{"alpha.echo", "beta.echo"}) {
		t.Fatalf("candidates: %v", got)
	}
	echoed, err := bridge(t).Tools.CallBetaEcho(mcpbridge.CallBetaEchoInput{Text: "hi"})
	if err != nil || echoed.Structured.Result != "hi" {
		t.Fatalf("beta.echo: %+v %v", echoed, err)
	}
}

func TestAToolThatFailsIsA422WithItsContent(t *testing.T) {
	_, err := bridge(t).CallTool("process_data", map[string]interface{}{"input": "{", "input_format": "json"})
	problem := problemOf(t, err)
	if problem.Status != 422 || problem.Type != mcpbridge.ProblemTypeToolError {
		t.Fatalf("problem: %+v", problem)
	}
	if text, _ := problem.Content()[0]["text"].(string); !strings.Contains(text, "not valid JSON") {
		t.Fatalf("content: %v", problem.Content())
	}
	_, err = bridge(t).Tools.CallAlphaFail(mcpbridge.CallAlphaFailInput{Message: "on purpose"})
	if failed := problemOf(t, err); failed.Type != mcpbridge.ProblemTypeToolError || !strings.Contains(failed.Detail, "on purpose") {
		t.Fatalf("fail: %+v", failed)
	}
}

func TestAServerThatIsDownIsA503WithRetryAfter(t *testing.T) {
	_, err := bridge(t).CallServerTool("dead", "anything", nil)
	problem := problemOf(t, err)
	if problem.Status != 503 || problem.Type != mcpbridge.ProblemTypeUpstreamUnavailable || problem.Server() != "dead" || problem.RetryAfter < time.Second {
		t.Fatalf("problem: %+v", problem)
	}
}

func TestA503IsRetriedAfterRetryAfterWithinTheContext(t *testing.T) {
	// The bridge's Retry-After for dead grows with its reconnect backoff (1 s up to 30 s), so within
	// 3 s the client either waited for it (at least 1 s) or saw at once that it could not.
	client := bridge(t, mcpbridge.WithRetry(2, time.Millisecond))
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	start := time.Now()
	_, err := client.CallServerToolContext(ctx, "dead", "anything", nil)
	problem := problemOf(t, err)
	if waited := time.Since(start); problem.Status != 503 || (waited < time.Second && problem.RetryAfter <= 2*time.Second) {
		t.Fatalf("gave up after %s on a Retry-After of %s: %v", waited, problem.RetryAfter, err)
	}
	short, cancelShort := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancelShort()
	start = time.Now()
	_, err = client.CallServerToolContext(short, "dead", "anything", nil)
	if problemOf(t, err).Status != 503 || time.Since(start) > 400*time.Millisecond {
		t.Fatalf("waited %s past a deadline Retry-After would miss: %v", time.Since(start), err)
	}
}

func TestNoBridgeIsATransportError(t *testing.T) {
	_, err := mcpbridge.NewClient(os.Getenv("MCP_CLOSED_URL"), mcpbridge.WithRetry(2, time.Millisecond)).ListTools()
	var transport *mcpbridge.TransportError
	if !errors.As(err, &transport) {
		t.Fatalf("want a *TransportError, got %T: %v", err, err)
	}
}

func TestAnEventStreamHearsCallsAsTheyFinish(t *testing.T) {
	client := bridge(t)
	stream := client.API.StreamEvents("", "", "", "", "tool.call.finished")
	defer stream.Close()
	stop := make(chan struct{})
	defer close(stop)
	go func() { // calls until one is heard: the stream hears calls made once it is open
		for {
			select {
			case <-stop:
				return
			case <-time.After(200 * time.Millisecond):
				client.CallTool("process_data", map[string]interface{}{"input": "go", "format": "text"})
			}
		}
	}()
	message, err := stream.Next()
	if err != nil {
		t.Fatal(err)
	}
	var event struct {
		ID   string `json:"id"`
		Type string `json:"type"`
		Data struct {
			Tool string `json:"tool"`
		} `json:"data"`
	}
	if err := json.Unmarshal(message.Data, &event); err != nil {
		t.Fatal(err)
	}
	if message.Event != "message" || event.Type != "tool.call.finished" || event.Data.Tool != "process_data" || event.ID != message.ID {
		t.Fatalf("message: %+v event: %+v", message, event)
	}
}

func TestTheMetricsArriveAsPrometheusTextForAnAdminOnly(t *testing.T) {
	admin := bridge(t, mcpbridge.WithAPIKey(os.Getenv("MCP_BRIDGE_ADMIN_KEY")))
	if _, err := admin.CallTool("process_data", map[string]interface{}{"input": "counted", "format": "text"}); err != nil {
		t.Fatal(err)
	}
	text, err := admin.API.GetMetrics()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(text, `mcp_bridge_tool_calls_total{server="demo",status="200",tool="process_data"}`) {
		t.Fatalf("no count of the call in:\n%s", text)
	}
	_, err = bridge(t).API.GetMetrics()
	if problem := problemOf(t, err); problem.Status != 403 {
		t.Fatalf("a key without the admin scope: want 403, got %d", problem.Status)
	}
}
