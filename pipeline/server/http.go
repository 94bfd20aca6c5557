package server

import (
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/nexus-compliance/nexus/pipeline/api"
	"github.com/nexus-compliance/nexus/pipeline/mapper"
)

// Error codes of error bodies.
const (
	CodeValidation   = "VALIDATION_ERROR"
	CodeNotFound     = "NOT_FOUND"
	CodeUnauthorized = "UNAUTHORIZED"
	CodeQueueFull    = "QUEUE_FULL"
	CodeUnavailable  = "SERVICE_UNAVAILABLE"
	CodeTooLarge     = "PAYLOAD_TOO_LARGE"
	CodeInternal     = "INTERNAL_ERROR"
)

// Headers of the envelope.
const (
	HeaderRequestID = "X-Request-Id"
	// HeaderReranker says which scorer answered /api/v1/rerank:
	// cross-encoder or lexical.
	HeaderReranker = "X-Nexus-Reranker"
)

// PathDLQ lists the parked jobs (GET).
const PathDLQ = "/api/v1/dlq"

func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+api.PathHealth, func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, api.Health{Status: "ok"})
	})
	mux.HandleFunc("GET "+api.PathReady, s.handleReady)
	mux.HandleFunc("POST "+api.PathMappings, s.handleSubmit)
	mux.HandleFunc("GET "+api.PathMappings, s.handleList)
	// The seed gives the status API (a job id) and the mapping API (a
	// mapping key, "source|target" URL-encoded) the same path:
	// handleGetMapping tries the id as a job first, then as a mapping key.
	mux.HandleFunc("GET "+api.PathMapping, s.handleGetMapping)
	mux.HandleFunc("PUT "+api.PathMapping, s.handleUpdate)
	mux.HandleFunc("PUT "+api.PathArchive, s.handleArchive)
	mux.HandleFunc("POST "+api.PathBatchMappings, s.handleBatch)
	mux.HandleFunc("GET "+api.PathControlMappings, s.handleControlMappings)
	mux.HandleFunc("GET "+PathDLQ, func(w http.ResponseWriter, r *http.Request) {
		p := s.Parked()
		writeJSON(w, http.StatusOK, DLQ{MessageCount: len(p), Messages: append([]DLQEntry{}, p...)})
	})
	mux.HandleFunc("POST "+api.PathEmbed, s.handleEmbed)
	mux.HandleFunc("POST "+api.PathRetrieve, s.handleRetrieve)
	mux.HandleFunc("POST "+api.PathRerank, s.handleRerank)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, api.ErrorBody{Error: fmt.Sprintf("no route %s %s", r.Method, r.URL.Path), ErrorCode: CodeNotFound})
	})
	return s.envelope(mux)
}

type recorder struct {
	http.ResponseWriter
	status int
}

func (r *recorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *recorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return r.ResponseWriter.Write(b)
}

// envelope applies what every response shares: request ids, CORS, the
// bearer token, body limits, panics as 500, and the access log.
func (s *Server) envelope(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		id := r.Header.Get(HeaderRequestID)
		if !validRequestID(id) {
			id = mapper.NewUUID()
		}
		rec := &recorder{ResponseWriter: w}
		h := w.Header()
		h.Set(HeaderRequestID, id)
		h.Set("Access-Control-Allow-Origin", "*")
		defer func() {
			if p := recover(); p != nil {
				s.logf("nexus serve: panic serving %s %s (request %s): %v", r.Method, r.URL.Path, id, p)
				if rec.status == 0 {
					writeError(rec, http.StatusInternalServerError, api.ErrorBody{Error: "internal error", ErrorCode: CodeInternal})
				}
			}
			// Never the query or headers: they may carry credentials.
			s.logf("%s %s %s %d %s request_id=%s", start.UTC().Format(time.RFC3339), r.Method, r.URL.EscapedPath(), rec.status,
				time.Since(start).Round(time.Microsecond), id)
		}()
		if r.Method == http.MethodOptions {
			h.Set("Access-Control-Allow-Methods", "GET, POST, PUT, OPTIONS")
			h.Set("Access-Control-Allow-Headers", "Authorization, Content-Type, X-Request-Id")
			h.Set("Access-Control-Max-Age", "600")
			rec.WriteHeader(http.StatusNoContent)
			return
		}
		if s.cfg.Token != "" && r.URL.Path != api.PathHealth && r.URL.Path != api.PathReady && !s.authorized(r) {
			h.Set("WWW-Authenticate", `Bearer realm="nexus"`)
			writeError(rec, http.StatusUnauthorized, api.ErrorBody{Error: "missing or invalid bearer token", ErrorCode: CodeUnauthorized})
			return
		}
		limit := s.cfg.MaxBody
		if r.URL.Path == api.PathRetrieve {
			limit = s.cfg.RetrieveBody
		}
		r.Body = http.MaxBytesReader(rec, r.Body, limit)
		next.ServeHTTP(rec, r)
	})
}

func (s *Server) authorized(r *http.Request) bool {
	got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	return ok && subtle.ConstantTimeCompare([]byte(got), []byte(s.cfg.Token)) == 1
}

func validRequestID(id string) bool {
	if id == "" || len(id) > 128 {
		return false
	}
	for i := 0; i < len(id); i++ {
		if c := id[i]; c < 0x21 || c > 0x7e {
			return false
		}
	}
	return true
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, status int, body api.ErrorBody) {
	writeJSON(w, status, body)
}

func badRequest(w http.ResponseWriter, field, format string, args ...any) {
	writeError(w, http.StatusBadRequest, api.ErrorBody{Error: fmt.Sprintf(format, args...), ErrorCode: CodeValidation, Field: field})
}

func internal(w http.ResponseWriter, err error) {
	writeError(w, http.StatusInternalServerError, api.ErrorBody{Error: err.Error(), ErrorCode: CodeInternal})
}

// decode reads a JSON body into v, answering 400 (or 413) itself when it
// cannot.
func decode(w http.ResponseWriter, r *http.Request, v any) bool {
	if err := json.NewDecoder(r.Body).Decode(v); err != nil {
		bodyError(w, err)
		return false
	}
	return true
}

func bodyError(w http.ResponseWriter, err error) {
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		writeError(w, http.StatusRequestEntityTooLarge, api.ErrorBody{Error: fmt.Sprintf("request body over %d bytes", tooBig.Limit), ErrorCode: CodeTooLarge, Field: "body"})
		return
	}
	var typ *json.UnmarshalTypeError
	if errors.As(err, &typ) && typ.Field != "" {
		badRequest(w, typ.Field, "invalid JSON body: %s must be %s, not %s", typ.Field, typ.Type, typ.Value)
		return
	}
	badRequest(w, "body", "invalid JSON body: %v", err)
}

func (s *Server) handleReady(w http.ResponseWriter, r *http.Request) {
	if s.Ready() {
		writeJSON(w, http.StatusOK, api.Health{Status: "ready"})
		return
	}
	h := api.Health{Status: "loading", Detail: "loading the catalog and models"}
	if v, _ := s.loadErr.Load().(string); v != "" {
		h = api.Health{Status: "error", Detail: v}
	}
	writeJSON(w, http.StatusServiceUnavailable, h)
}
