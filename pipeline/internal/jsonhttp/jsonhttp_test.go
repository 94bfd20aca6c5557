package jsonhttp

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestRetryAfter(t *testing.T) {
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	cases := map[string]time.Duration{
		"":                              0,
		"3":                             3 * time.Second,
		"-1":                            0,
		"soon":                          0,
		"Fri, 01 May 2026 12:00:07 GMT": 7 * time.Second,
		"Fri, 01 May 2026 11:00:00 GMT": 0, // in the past
	}
	for h, want := range cases {
		if got := retryAfter(h, now); got != want {
			t.Errorf("retryAfter(%q) = %s, want %s", h, got, want)
		}
	}
}

func TestMessage(t *testing.T) {
	cases := map[string]string{
		`{"detail":"not allowed"}`: "not allowed",
		`{"detail":[{"loc":["body","control","shortId"],"msg":"field required"},{"msg":"too long"}]}`: "shortId: field required; too long",
		`{"error":{"message":"agent failed"}}`:                                                        "agent failed",
		`{"message":"busy","error":"x"}`:                                                              "busy",
		`{"status":"error"}`:                                                                          "",
		"<html><body>\n502 Bad Gateway\n</body></html>":                                               "<html><body> 502 Bad Gateway </body></html>",
		strings.Repeat("é", 300):                                                                      strings.Repeat("é", 200) + "…",
	}
	for body, want := range cases {
		if got := message([]byte(body)); got != want {
			t.Errorf("message(%.40q) = %q, want %q", body, got, want)
		}
	}
}

// A Retry-After longer than nexus waits fails at once, saying so.
func TestRetryAfterTooLong(t *testing.T) {
	calls := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		calls++
		w.Header().Set("Retry-After", "3600")
		http.Error(w, `{"detail":"quota exhausted"}`, http.StatusTooManyRequests)
	}))
	defer srv.Close()
	c, err := New("strands", srv.URL, nil, Options{})
	if err != nil {
		t.Fatal(err)
	}
	err = c.Post(context.Background(), "/api/v1/reason", map[string]string{}, &struct{}{})
	want := "strands POST /api/v1/reason: 429 Too Many Requests: quota exhausted; the service asked to retry after 1h0m0s, longer than nexus waits"
	if err == nil || err.Error() != want || calls != 1 {
		t.Fatalf("err %v after %d calls, want %q", err, calls, want)
	}
}
