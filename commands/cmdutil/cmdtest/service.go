package cmdtest

import (
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
)

// Service is an in-test science or Strands service: GET /health always
// answers 200 ok, GET /ready 200 ready or, while ready is false, 503
// loading (models still loading). Closed when the test ends.
func Service(t testing.TB, ready *atomic.Bool) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		switch {
		case r.URL.Path == "/health":
			_, _ = w.Write([]byte(`{"status":"ok"}`))
		case r.URL.Path == "/ready" && ready.Load():
			_, _ = w.Write([]byte(`{"status":"ready"}`))
		case r.URL.Path == "/ready":
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = w.Write([]byte(`{"status":"loading"}`))
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}
