// The generated Go client against small httptest servers: what it sends, how it retries, and how
// answers become values or typed errors. Copied beside a copy of generated/go by
// tests/generator/test_go_client.py, which runs it with `go test`.
package mcpbridge_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"reflect"
	"sync"
	"testing"
	"time"

	mcpbridge "mcp-rest-bridge.dev/client"
)

// answer is one scripted reply of a fake bridge.
type answer struct {
	status int
	header map[string]string
	body   string
}

// fake is a bridge that answers from a script and writes down each request it got.
type fake struct {
	mu       sync.Mutex
	script   []answer
	requests []*http.Request
	bodies   []string
}

func (f *fake) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	f.mu.Lock()
	f.requests = append(f.requests, r)
	f.bodies = append(f.bodies, string(body))
	next := answer{status: 500, body: `{"title": "script ran out"}`}
	if len(f.script) > 0 {
		next, f.script = f.script[0], f.script[1:]
	}
	f.mu.Unlock()
	for name, value := range next.header {
		w.Header().Set(name, value)
	}
	if next.status >= 400 {
		w.Header().Set("Content-Type", "application/problem+json")
	}
	w.WriteHeader(next.status)
	_, _ = io.WriteString(w, next.body)
}

func (f *fake) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.requests)
}

func serve(t *testing.T, script ...answer) (*fake, string) {
	t.Helper()
	f := &fake{script: script}
	server := httptest.NewServer(f)
	t.Cleanup(server.Close)
	return f, server.URL
}

func problemOf(t *testing.T, err error) *mcpbridge.ProblemError {
	t.Helper()
	var problem *mcpbridge.ProblemError
	if !errors.As(err, &problem) {
		t.Fatalf("want a *ProblemError, got %T: %v", err, err)
	}
	return problem
}

const toolList = `{"tools": [{"name": "echo", "qualifiedName": "demo.echo", "server": "demo", "description": "Echo.", "inputSchema": {"type": "object"}}]}`

func TestTheMCPURLAndTheBaseURLNameTheSameBridge(t *testing.T) {
	f, url := serve(t, answer{status: 200, body: toolList}, answer{status: 200, body: toolList})
	for _, endpoint := range []string{url + "/mcp", url + "/"} {
		tools, err := mcpbridge.NewClient(endpoint).ListTools()
		if err != nil {
			t.Fatal(err)
		}
		if len(tools) != 1 || tools[0].Name != "echo" || tools[0].Description != "Echo." {
			t.Fatalf("tools: %+v", tools)
		}
	}
	for _, r := range f.requests {
		if r.URL.Path != "/tools" || r.Header.Get("Accept") != "application/json" {
			t.Fatalf("request: %s %s", r.URL.Path, r.Header)
		}
	}
}

func TestCallToolSendsTheArgumentsAndTheOptionsHeaders(t *testing.T) {
	f, url := serve(t, answer{status: 200, body: `{"content": [{"type": "text", "text": "hi"}], "isError": false}`})
	client := mcpbridge.NewClient(url, mcpbridge.WithAPIKey("key-1"), mcpbridge.WithHeader("X-Trace", "abc"))
	result, err := client.CallTool("demo.echo", map[string]interface{}{"text": "hi"})
	if err != nil {
		t.Fatal(err)
	}
	if result.Content[0].TextContent == nil || result.Content[0].TextContent.Text != "hi" {
		t.Fatalf("content: %+v", result.Content)
	}
	r := f.requests[0]
	if r.Method != "POST" || r.URL.Path != "/tools/demo.echo" || f.bodies[0] != `{"text":"hi"}` {
		t.Fatalf("request: %s %s %s", r.Method, r.URL.Path, f.bodies[0])
	}
	want := map[string]string{"Authorization": "Bearer key-1", "X-Trace": "abc", "Content-Type": "application/json"}
	for name, value := range want {
		if r.Header.Get(name) != value {
			t.Fatalf("header %s: %q", name, r.Header.Get(name))
		}
	}
}

func TestCallToolWithoutArgumentsSendsAnEmptyObject(t *testing.T) {
	f, url := serve(t, answer{status: 200, body: `{"content": [], "isError": false}`})
	if _, err := mcpbridge.NewClient(url).CallServerTool("demo", "ping", nil); err != nil {
		t.Fatal(err)
	}
	if f.bodies[0] != `{}` || f.requests[0].URL.Path != "/servers/demo/tools/ping" {
		t.Fatalf("request: %s %s", f.requests[0].URL.Path, f.bodies[0])
	}
}

func TestATokenSourceIsAskedBeforeEachAttempt(t *testing.T) {
	f, url := serve(t, answer{status: 503, body: `{}`}, answer{status: 200, body: toolList})
	asked := 0
	source := func(ctx context.Context) (string, error) {
		asked++
		return fmt.Sprintf("token-%d", asked), nil
	}
	client := mcpbridge.NewClient(url, mcpbridge.WithAPIKey("ignored"), mcpbridge.WithTokenSource(source), mcpbridge.WithRetry(2, time.Millisecond))
	if _, err := client.ListTools(); err != nil {
		t.Fatal(err)
	}
	if got := []string{f.requests[0].Header.Get("Authorization"), f.requests[1].Header.Get("Authorization")}; !reflect.DeepEqual(got, []string{"Bearer token-1", "Bearer token-2"}) {
		t.Fatalf("authorization: %v", got)
	}
}

func TestATokenSourceThatFailsEndsTheRequestUnsent(t *testing.T) {
	f, url := serve(t)
	broken := errors.New("no token today")
	client := mcpbridge.NewClient(url, mcpbridge.WithTokenSource(func(context.Context) (string, error) { return "", broken }))
	_, err := client.ListTools()
	if !errors.Is(err, broken) || f.count() != 0 {
		t.Fatalf("err %v after %d requests", err, f.count())
	}
}

func TestA400IsAProblemErrorWithItsPointersAndIsNotRetried(t *testing.T) {
	body := `{"type": "https://mcp-rest-bridge.dev/problems/invalid-request", "title": "Request is invalid", "status": 400, "detail": "/body/data: bad", "errors": [{"pointer": "/body/data", "message": "bad"}], "instance": "/tools/x"}`
	f, url := serve(t, answer{status: 400, body: body}, answer{status: 200, body: toolList})
	_, err := mcpbridge.NewClient(url, mcpbridge.WithRetry(3, time.Millisecond)).CallTool("x", nil)
	problem := problemOf(t, err)
	if f.count() != 1 {
		t.Fatalf("a 400 was sent %d times", f.count())
	}
	want := mcpbridge.ProblemError{
		Status: 400, Type: mcpbridge.ProblemTypeInvalidRequest, Title: "Request is invalid", Detail: "/body/data: bad",
		Instance: "/tools/x", Errors: []mcpbridge.FieldError{{Pointer: "/body/data", Message: "bad"}},
	}
	got := mcpbridge.ProblemError{
		Status: problem.Status, Type: problem.Type, Title: problem.Title, Detail: problem.Detail,
		Instance: problem.Instance, Errors: problem.Errors,
	}
	if !reflect.DeepEqual(got, want) || string(problem.Body) != body {
		t.Fatalf("problem: %+v", problem)
	}
	if problem.Error() != "mcpbridge: 400 Request is invalid: /body/data: bad" {
		t.Fatalf("message: %s", problem.Error())
	}
}

func TestOtherStatusesThanTheRetriedOnesAreNotRetried(t *testing.T) {
	for _, status := range []int{401, 404, 409, 422, 500} {
		f, url := serve(t, answer{status: status, body: `{"title": "no"}`}, answer{status: 200, body: toolList})
		_, err := mcpbridge.NewClient(url, mcpbridge.WithRetry(3, time.Millisecond)).ListTools()
		if problemOf(t, err).Status != status || f.count() != 1 {
			t.Fatalf("%d: %v after %d requests", status, err, f.count())
		}
	}
}

func TestRetriedStatusesAreRetriedUpToTheAttempts(t *testing.T) {
	for _, status := range []int{429, 502, 503, 504} {
		f, url := serve(t, answer{status: status, body: `{}`}, answer{status: status, body: `{}`}, answer{status: 200, body: toolList})
		if _, err := mcpbridge.NewClient(url, mcpbridge.WithRetry(3, time.Millisecond)).ListTools(); err != nil {
			t.Fatalf("%d: %v", status, err)
		}
		f2, url2 := serve(t, answer{status: status, body: `{}`}, answer{status: status, body: `{}`}, answer{status: 200, body: toolList})
		_, err := mcpbridge.NewClient(url2, mcpbridge.WithRetry(2, time.Millisecond)).ListTools()
		if problemOf(t, err).Status != status || f.count() != 3 || f2.count() != 2 {
			t.Fatalf("%d: %v after %d and %d requests", status, err, f.count(), f2.count())
		}
	}
}

func TestRetryAfterIsWaitedFor(t *testing.T) {
	f, url := serve(t, answer{status: 429, header: map[string]string{"Retry-After": "1"}, body: `{}`}, answer{status: 200, body: toolList})
	start := time.Now()
	if _, err := mcpbridge.NewClient(url, mcpbridge.WithRetry(2, time.Millisecond)).ListTools(); err != nil {
		t.Fatal(err)
	}
	if waited := time.Since(start); waited < time.Second || f.count() != 2 {
		t.Fatalf("waited %s over %d requests", waited, f.count())
	}
}

func TestARetryAfterBeyondTheContextsDeadlineEndsTheRetriesAtOnce(t *testing.T) {
	f, url := serve(t, answer{status: 503, header: map[string]string{"Retry-After": "20"}, body: `{"type": "https://mcp-rest-bridge.dev/problems/upstream-unavailable", "title": "away", "server": "demo"}`})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	start := time.Now()
	_, err := mcpbridge.NewClient(url, mcpbridge.WithRetry(5, time.Millisecond)).ListToolsContext(ctx)
	problem := problemOf(t, err)
	if time.Since(start) > time.Second || f.count() != 1 {
		t.Fatalf("took %s over %d requests", time.Since(start), f.count())
	}
	if problem.RetryAfter != 20*time.Second || problem.Server() != "demo" || problem.Type != mcpbridge.ProblemTypeUpstreamUnavailable {
		t.Fatalf("problem: %+v", problem)
	}
}

func TestARetryAfterBeyondTheMaxDelayEndsTheRetriesAtOnce(t *testing.T) {
	f, url := serve(t, answer{status: 503, header: map[string]string{"Retry-After": "3600"}, body: `{}`})
	_, err := mcpbridge.NewClient(url, mcpbridge.WithRetry(5, time.Millisecond)).ListTools()
	if problemOf(t, err).RetryAfter != time.Hour || f.count() != 1 {
		t.Fatalf("%v after %d requests", err, f.count())
	}
}

func TestAConnectionErrorIsRetriedThenATransportError(t *testing.T) {
	listener, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := "http://" + listener.Addr().String()
	listener.Close()
	start := time.Now()
	_, err = mcpbridge.NewClient(closed, mcpbridge.WithRetry(3, 50*time.Millisecond)).ListTools()
	var transport *mcpbridge.TransportError
	if !errors.As(err, &transport) || transport.Method != "GET" || transport.URL != closed+"/tools" {
		t.Fatalf("want a *TransportError, got %T: %v", err, err)
	}
	if waited := time.Since(start); waited < 50*time.Millisecond { // two pauses: at least 25 ms + 50 ms
		t.Fatalf("no pause between attempts: %s", waited)
	}
}

func TestACancelledContextIsATransportErrorThatSaysSo(t *testing.T) {
	release := make(chan struct{})
	server := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-release }))
	defer server.Close()
	defer close(release)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	_, err := mcpbridge.NewClient(server.URL).ListToolsContext(ctx)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("want context.DeadlineExceeded, got %v", err)
	}
}

func TestWithTimeoutBoundsEachAttempt(t *testing.T) {
	release := make(chan struct{})
	calls := 0
	var mu sync.Mutex
	server := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		calls++
		mu.Unlock()
		<-release
	}))
	defer server.Close()
	defer close(release)
	_, err := mcpbridge.NewClient(server.URL, mcpbridge.WithTimeout(50*time.Millisecond), mcpbridge.WithRetry(2, time.Millisecond)).ListTools()
	var transport *mcpbridge.TransportError
	mu.Lock()
	defer mu.Unlock()
	if !errors.As(err, &transport) || !errors.Is(err, context.DeadlineExceeded) || calls != 2 {
		t.Fatalf("%v after %d calls", err, calls)
	}
}

func TestAnAnswerThatIsNotAProblemKeepsItsTextAsDetail(t *testing.T) {
	_, url := serve(t, answer{status: 404, body: "404 page not found\n"})
	problem := problemOf(t, func() error { _, err := mcpbridge.NewClient(url).ListTools(); return err }())
	if problem.Type != "about:blank" || problem.Title != "Not Found" || problem.Detail != "404 page not found" {
		t.Fatalf("problem: %+v", problem)
	}
}

func TestCatalogueMembersAreRead(t *testing.T) {
	body := `{"type": "https://mcp-rest-bridge.dev/problems/ambiguous-name", "title": "t", "status": 409, "candidates": ["alpha.echo", "beta.echo"]}`
	_, url := serve(t, answer{status: 409, body: body}, answer{status: 422, body: `{"type": "https://mcp-rest-bridge.dev/problems/tool-error", "title": "t", "content": [{"type": "text", "text": "boom"}], "structuredContent": {"ok": false}}`}, answer{status: 502, body: `{"type": "https://mcp-rest-bridge.dev/problems/upstream-error", "title": "t", "server": "demo", "upstreamCode": -32603}`})
	client := mcpbridge.NewClient(url, mcpbridge.WithRetry(1, 0))
	_, err := client.CallTool("echo", nil)
	if got := problemOf(t, err).Candidates(); !reflect.DeepEqual(got, []string{"alpha.echo", "beta.echo"}) {
		t.Fatalf("candidates: %v", got)
	}
	_, err = client.CallTool("fail", nil)
	failed := problemOf(t, err)
	if failed.Content()[0]["text"] != "boom" || failed.StructuredContent()["ok"] != false || failed.Member("title") != "t" {
		t.Fatalf("tool error: %+v", failed)
	}
	_, err = client.CallTool("broken", nil)
	code, ok := problemOf(t, err).UpstreamCode()
	if !ok || code != -32603 {
		t.Fatalf("upstream code: %d %v", code, ok)
	}
}

func TestUnionsDecodeByKindAndKeepWhatTheyDoNotKnow(t *testing.T) {
	var result mcpbridge.ToolResult
	data := `{"isError": false, "content": [
		{"type": "text", "text": "t"},
		{"type": "image", "data": "AA==", "mimeType": "image/png"},
		{"type": "resource", "resource": {"uri": "bin://x", "blob": "AA=="}},
		{"type": "hologram", "depth": 3}
	]}`
	if err := json.Unmarshal([]byte(data), &result); err != nil {
		t.Fatal(err)
	}
	blocks := result.Content
	if blocks[0].TextContent.Text != "t" || blocks[1].ImageContent.MimeType != "image/png" || blocks[2].EmbeddedResource.Resource.BlobResourceContents.URI != "bin://x" {
		t.Fatalf("blocks: %+v", blocks)
	}
	if blocks[3].TextContent != nil || string(blocks[3].Raw) != `{"type": "hologram", "depth": 3}` {
		t.Fatalf("unknown kind: %+v", blocks[3])
	}
	if printed := fmt.Sprintf("%v", result); printed != `{[{"type":"text","text":"t"} {"type":"image","data":"AA==","mimeType":"image/png"} {"type":"resource","resource":{"uri":"bin://x","blob":"AA=="}} {"type": "hologram", "depth": 3}] map[] false map[]}` {
		t.Fatalf("printed: %s", printed)
	}
	written, err := json.Marshal(result.Content)
	if err != nil {
		t.Fatal(err)
	}
	want := `[{"type":"text","text":"t"},{"type":"image","data":"AA==","mimeType":"image/png"},{"type":"resource","resource":{"uri":"bin://x","blob":"AA=="}},{"type":"hologram","depth":3}]`
	if string(written) != want {
		t.Fatalf("written: %s", written)
	}
}

func TestAnIDIsAnIntegerOrAString(t *testing.T) {
	var ids []mcpbridge.JSONRPCID
	if err := json.Unmarshal([]byte(`[7, "req-2", 1.5]`), &ids); err != nil {
		t.Fatal(err)
	}
	if *ids[0].Integer != 7 || *ids[1].Text != "req-2" || ids[2].Integer != nil || ids[2].Text != nil {
		t.Fatalf("ids: %+v", ids)
	}
}

func TestOptionalFieldsAreLeftOutAndEnumsAreTypedStrings(t *testing.T) {
	registration := mcpbridge.ServerRegistration{
		Name:      "git",
		Transport: mcpbridge.ServerRegistrationTransportStdio,
		Command:   "uvx",
		Timeout:   mcpbridge.Ptr(2.5),
		Cpus:      &mcpbridge.ServerRegistrationCpus{Auto: mcpbridge.Ptr("auto")},
	}
	written, err := json.Marshal(registration)
	if err != nil {
		t.Fatal(err)
	}
	if string(written) != `{"name":"git","transport":"stdio","command":"uvx","cpus":"auto","timeout":2.5}` {
		t.Fatalf("written: %s", written)
	}
}

func TestRPCAnswersTheResultOrAnRPCError(t *testing.T) {
	f, url := serve(t,
		answer{status: 200, body: `{"jsonrpc": "2.0", "id": 1, "result": {}}`},
		answer{status: 200, body: `{"jsonrpc": "2.0", "id": 1, "error": {"code": -32602, "message": "no tool named 'x'", "data": {"status": 404}}}`},
	)
	client := mcpbridge.NewClient(url)
	result, err := client.RPC("ping", nil)
	if err != nil || len(result) != 0 || f.bodies[0] != `{"jsonrpc":"2.0","method":"ping","id":1}` {
		t.Fatalf("ping: %v %v %s", result, err, f.bodies[0])
	}
	_, err = client.RPC("tools/call", map[string]interface{}{"name": "x"})
	var rpc *mcpbridge.RPCError
	if !errors.As(err, &rpc) || rpc.Code != -32602 || rpc.Message != "no tool named 'x'" {
		t.Fatalf("want an *RPCError, got %T: %v", err, err)
	}
}

func TestAnEventStreamParsesItsMessagesAndResumesAfterTheLastIDWhenTheConnectionDrops(t *testing.T) {
	var mu sync.Mutex
	var resumedFrom []string
	server := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		resumedFrom = append(resumedFrom, r.Header.Get("Last-Event-ID"))
		first := len(resumedFrom) == 1
		mu.Unlock()
		w.Header().Set("Content-Type", "text/event-stream")
		if first { // then the connection drops
			fmt.Fprint(w, ": open\r\nretry: 10\r\n\r\nid: 7\r\nevent: tool.call.finished\r\ndata: {\"a\":\r\ndata: 1}\r\n\r\n")
			fmt.Fprint(w, "data: plain text\r\r")
			return
		}
		fmt.Fprint(w, "id: 8\ndata: {\"b\":2}\n\n")
		w.(http.Flusher).Flush()
		<-r.Context().Done()
	}))
	defer server.Close()
	stream := mcpbridge.NewClient(server.URL).API.StreamEvents("", "", "", "", "tool.call.finished")
	defer stream.Close()
	var got []string
	for len(got) < 3 {
		message, err := stream.Next()
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, message.Event+" "+message.ID+" "+string(message.Data))
	}
	want := []string{`tool.call.finished 7 {"a":` + "\n" + `1}`, `message 7 "plain text"`, `message 8 {"b":2}`}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("messages: %q", got)
	}
	mu.Lock()
	defer mu.Unlock()
	if !reflect.DeepEqual(resumedFrom, []string{"", "7"}) {
		t.Fatalf("Last-Event-ID sent: %q", resumedFrom)
	}
	if stream.LastEventID() != "8" {
		t.Fatalf("last id: %q", stream.LastEventID())
	}
}

func TestAnEventStreamsErrorAnswerIsItsProblemAndCloseEndsAWaitingNext(t *testing.T) {
	refused := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/problem+json")
		w.WriteHeader(http.StatusUnauthorized)
		fmt.Fprint(w, `{"type":"https://mcp-rest-bridge.dev/problems/unauthorized","title":"no","status":401,"detail":"no key"}`)
	}))
	defer refused.Close()
	_, err := mcpbridge.NewClient(refused.URL).API.StreamEvents("", "", "", "", "").Next()
	var problem *mcpbridge.ProblemError
	if !errors.As(err, &problem) || problem.Status != http.StatusUnauthorized {
		t.Fatalf("want a 401 problem, got %v", err)
	}
	quiet := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		w.(http.Flusher).Flush()
		<-r.Context().Done()
	}))
	defer quiet.Close()
	stream := mcpbridge.NewClient(quiet.URL).API.StreamEvents("", "", "", "", "")
	done := make(chan error, 1)
	go func() {
		_, err := stream.Next()
		done <- err
	}()
	time.Sleep(100 * time.Millisecond)
	stream.Close()
	select {
	case err := <-done:
		var transport *mcpbridge.TransportError
		if !errors.As(err, &transport) {
			t.Fatalf("want a TransportError, got %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Next did not return after Close")
	}
}
