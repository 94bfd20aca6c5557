// Package client is the HTTP client of the Nexus mapping API (async jobs
// and mapping CRUD) and of the science service (NexusECSService): every
// endpoint of pipeline/api, with per-attempt deadlines, jittered retries
// that respect Retry-After and never repeat a job submission the server
// may have seen, pluggable credentials (pipeline/api/auth), and typed
// errors that carry the status, the request id and the service's words.
package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/nexus-compliance/nexus/pipeline"
	"github.com/nexus-compliance/nexus/pipeline/api"
	"github.com/nexus-compliance/nexus/pipeline/api/auth"
	"github.com/nexus-compliance/nexus/pipeline/internal/jsonhttp"
)

// DefaultTimeout bounds one attempt: API Gateway gives up after 29 s.
const DefaultTimeout = 30 * time.Second

// Options tune a Client; zero fields take the defaults.
type Options struct {
	// Timeout bounds each attempt, reading the body included (default 30 s).
	Timeout time.Duration
	// MaxAttempts bounds the calls made for one request (default 4).
	MaxAttempts int
	// Backoff is the ceiling of the first retry's wait (default 500 ms),
	// doubling per retry up to MaxBackoff (default 20 s); each wait is drawn
	// uniformly below the ceiling (full jitter).
	Backoff, MaxBackoff time.Duration
	// MaxRetryAfter is the longest Retry-After waited out (default 60 s); a
	// longer one fails the call at once.
	MaxRetryAfter time.Duration
	// HTTPClient sends the requests (default http.DefaultClient).
	HTTPClient *http.Client
	// Authorizer adds credentials (auth.Bearer, auth.TokenCommand,
	// auth.SigV4, or auth.FromEnvironment's choice); nil sends none.
	Authorizer auth.Authorizer
	// UserAgent is sent as User-Agent (default "nexus"); pass "nexus/<version>".
	UserAgent string
	// OnRetry hears of each retry before its wait (for --debug).
	OnRetry func(attempt int, wait time.Duration, err error)
	// Debug receives one line per attempt: method, path, status, duration,
	// request id. Never the query, headers or bodies.
	Debug io.Writer
}

// Client calls one Nexus API deployment. It is safe for concurrent use.
type Client struct {
	c *jsonhttp.Client
}

var (
	_ api.MappingAPI = (*Client)(nil)
	_ api.ScienceAPI = (*Client)(nil)
)

// New returns a client of the API at baseURL (http or https; a path prefix
// such as an API Gateway stage, "https://x.execute-api.us-east-1.amazonaws.com/prod",
// is kept).
func New(baseURL string, opts Options) (*Client, error) {
	if opts.Timeout <= 0 {
		opts.Timeout = DefaultTimeout
	}
	if opts.UserAgent == "" {
		opts.UserAgent = "nexus"
	}
	jo := jsonhttp.Options{
		Authorizer: opts.Authorizer, UserAgent: opts.UserAgent, Timeout: opts.Timeout,
		MaxAttempts: opts.MaxAttempts, Backoff: opts.Backoff, MaxBackoff: opts.MaxBackoff,
		MaxRetryAfter: opts.MaxRetryAfter, OnRetry: opts.OnRetry, Debug: opts.Debug,
	}
	c, err := jsonhttp.New("nexus-api", baseURL, opts.HTTPClient, jo)
	if err != nil {
		return nil, err
	}
	return &Client{c: c}, nil
}

// Error is an answer of the API outside 2xx.
type Error struct {
	StatusCode int
	RequestID  string
	Body       api.ErrorBody // Error holds the body's start when it was not the API's JSON
	Method     string
	Path       string // escaped, without the query
	Attempts   int

	notFound notFound // what the call was looking for, when the body does not say
	raw      []byte
}

type notFound struct{ resource, identifier string }

// HTTPStatus is the response's status code; commands/cmdutil maps it to an
// exit code (400 usage, 401/403 auth, 404 not found).
func (e *Error) HTTPStatus() int { return e.StatusCode }

func (e *Error) Error() string {
	b := e.Body
	switch {
	case e.StatusCode == http.StatusBadRequest || e.StatusCode == http.StatusUnprocessableEntity:
		field := b.Field
		if field == "" {
			field = "request"
		}
		msg := b.Error
		if msg == "" {
			msg = http.StatusText(e.StatusCode)
		}
		return "invalid " + field + ": " + msg
	case e.StatusCode == http.StatusNotFound:
		res, id := b.Resource, b.Identifier
		if res == "" {
			res = e.notFound.resource
		}
		if id == "" {
			id = e.notFound.identifier
		}
		var s string
		if res != "" || id != "" {
			s = strings.TrimSpace(res+" "+id) + " not found"
		} else {
			s = e.Method + " " + e.Path + ": not found"
			if b.Error != "" {
				s += ": " + b.Error
			}
		}
		if len(b.Suggestions) > 0 {
			s += "; did you mean: " + strings.Join(b.Suggestions, ", ") + "?"
		}
		return s
	}
	var s strings.Builder
	if e.StatusCode == http.StatusUnauthorized || e.StatusCode == http.StatusForbidden {
		s.WriteString("not authorized: ")
	}
	fmt.Fprintf(&s, "%s %s: %d %s", e.Method, e.Path, e.StatusCode, http.StatusText(e.StatusCode))
	if b.Error != "" {
		s.WriteString(": " + b.Error)
	}
	var notes []string
	if e.RequestID != "" {
		notes = append(notes, "request id "+e.RequestID)
	}
	if e.Attempts > 1 {
		notes = append(notes, fmt.Sprintf("after %d attempts", e.Attempts))
	}
	if len(notes) > 0 {
		s.WriteString(" (" + strings.Join(notes, ", ") + ")")
	}
	return s.String()
}

// IsNotFound reports whether err is the API's 404.
func IsNotFound(err error) bool {
	var e *Error
	return errors.As(err, &e) && e.StatusCode == http.StatusNotFound
}

// IsAuth reports whether err is the API refusing the credentials (401, 403).
func IsAuth(err error) bool {
	var e *Error
	return errors.As(err, &e) && (e.StatusCode == http.StatusUnauthorized || e.StatusCode == http.StatusForbidden)
}

// call makes one API call, turning status errors into *Error.
func (c *Client) call(ctx context.Context, r jsonhttp.Request, out any, nf notFound) error {
	_, err := c.c.Do(ctx, r, out)
	var se *jsonhttp.StatusError
	if !errors.As(err, &se) {
		return err
	}
	e := &Error{StatusCode: se.StatusCode, RequestID: se.RequestID, Method: se.Method, Path: se.Path,
		Attempts: se.Attempts, notFound: nf, raw: se.Body}
	if json.Unmarshal(se.Body, &e.Body) != nil || e.Body.Error == "" {
		e.Body.Error = se.Message // FastAPI's detail, a message field, or the start of a non-JSON body
	}
	if se.RetryAfter > 0 && strings.Contains(se.Message, "longer than nexus waits") {
		e.Body.Error = se.Message
	}
	return e
}

func seg(s string) string { return url.PathEscape(s) }

// SubmitMapping is POST /api/v1/mappings (202 Accepted). It is not
// idempotent: each call that reaches the server starts a job.
func (c *Client) SubmitMapping(ctx context.Context, req api.MappingRequest) (api.Accepted, error) {
	var out api.Accepted
	// A retried submission the server already saw would start a second job,
	// so it is retried only when it provably did not arrive: no connection
	// was made (refused, DNS, TLS), or a 429/503 carrying Retry-After (the
	// gateway's throttling, which runs before the handler). A 500/502/504 or
	// a timeout may follow a job created, so those are reported instead.
	err := c.call(ctx, jsonhttp.Request{Method: http.MethodPost, Path: api.PathMappings, Body: req, NotIdempotent: true}, &out, notFound{})
	return out, err
}

// JobStatus is GET /api/v1/mappings/{mappingId} for a job id.
func (c *Client) JobStatus(ctx context.Context, mappingID string) (api.JobStatus, error) {
	var out api.JobStatus
	err := c.call(ctx, jsonhttp.Request{Path: api.PathMappings + "/" + seg(mappingID)}, &out, notFound{"mapping job", mappingID})
	return out, err
}

// ListMappings is GET /api/v1/mappings: one page.
func (c *Client) ListMappings(ctx context.Context, opts api.ListOptions) (api.MappingPage, error) {
	q := url.Values{}
	if opts.ControlKey != "" {
		q.Set("controlKey", opts.ControlKey)
	}
	if opts.Status != "" {
		q.Set("status", string(opts.Status))
	}
	if opts.Limit > 0 {
		q.Set("limit", strconv.Itoa(opts.Limit))
	}
	if opts.NextToken != "" {
		q.Set("nextToken", opts.NextToken)
	}
	var out api.MappingPage
	err := c.call(ctx, jsonhttp.Request{Path: api.PathMappings, Query: q}, &out, notFound{})
	return out, err
}

// GetMapping is GET /api/v1/mappings/{mappingKey}.
func (c *Client) GetMapping(ctx context.Context, mappingKey string) (pipeline.Mapping, error) {
	var out pipeline.Mapping
	err := c.call(ctx, jsonhttp.Request{Path: api.PathMappings + "/" + seg(mappingKey)}, &out, notFound{"mapping", mappingKey})
	return out, err
}

// UpdateMapping is PUT /api/v1/mappings/{mappingKey}; it returns the
// mapping as stored.
func (c *Client) UpdateMapping(ctx context.Context, mappingKey string, u api.MappingUpdate) (pipeline.Mapping, error) {
	var out pipeline.Mapping
	err := c.call(ctx, jsonhttp.Request{Method: http.MethodPut, Path: api.PathMappings + "/" + seg(mappingKey), Body: u}, &out, notFound{"mapping", mappingKey})
	return out, err
}

// ArchiveMapping is PUT /api/v1/mappings/{mappingKey}/archive.
func (c *Client) ArchiveMapping(ctx context.Context, mappingKey string) (pipeline.Mapping, error) {
	var out pipeline.Mapping
	err := c.call(ctx, jsonhttp.Request{Method: http.MethodPut, Path: api.PathMappings + "/" + seg(mappingKey) + "/archive"}, &out, notFound{"mapping", mappingKey})
	return out, err
}

// BatchCreateMappings is POST /api/v1/batchMappings, api.MaxBatchMappings
// items per call. The response always has one result per item, Index being
// its position in items; a chunk whose call failed reports its items
// FAILED with the call's error. err is the first chunk failure (nil when
// every call succeeded, even if the server failed some items), so IsAuth
// and IsNotFound work on it. After an auth failure or a cancelled ctx the
// remaining chunks are not sent and are reported FAILED too.
//
// A chunk is not retried once the server may have seen it: a repeat would
// report the items it created the first time as failures.
func (c *Client) BatchCreateMappings(ctx context.Context, items []api.MappingCreateItem) (api.BatchMappingsResponse, error) {
	out := api.BatchMappingsResponse{Results: make([]api.BatchItemResult, 0, len(items))}
	var first error
	fail := func(start, end int, msg string) {
		for i := start; i < end; i++ {
			out.Results = append(out.Results, api.BatchItemResult{Index: i, Status: "FAILED", Error: msg})
			out.Failed++
		}
	}
	for start := 0; start < len(items); start += api.MaxBatchMappings {
		end := min(start+api.MaxBatchMappings, len(items))
		if first != nil && (IsAuth(first) || ctx.Err() != nil) {
			fail(start, end, "not sent: "+first.Error())
			continue
		}
		var resp api.BatchMappingsResponse
		err := c.call(ctx, jsonhttp.Request{Method: http.MethodPost, Path: api.PathBatchMappings,
			Body: api.BatchMappingsRequest{Mappings: items[start:end]}, NotIdempotent: true}, &resp, notFound{})
		if err != nil {
			if first == nil {
				first = fmt.Errorf("batch items %d-%d: %w", start, end-1, err)
			}
			fail(start, end, err.Error())
			continue
		}
		seen := make([]bool, end-start)
		for _, r := range resp.Results {
			if r.Index < 0 || r.Index >= end-start || seen[r.Index] {
				continue
			}
			seen[r.Index] = true
			r.Index += start
			if strings.EqualFold(r.Status, "CREATED") {
				out.Created++
			} else {
				out.Failed++
			}
			out.Results = append(out.Results, r)
		}
		for i, ok := range seen {
			if ok {
				continue
			}
			if len(resp.Results) == 0 && resp.Failed == 0 && resp.Created == end-start {
				out.Results = append(out.Results, api.BatchItemResult{Index: start + i, Status: "CREATED"})
				out.Created++
				continue
			}
			out.Results = append(out.Results, api.BatchItemResult{Index: start + i, Status: "FAILED", Error: "the server reported no result for this item"})
			out.Failed++
		}
	}
	return out, first
}

// ControlMappings is GET /api/v1/controls/{controlId}/mappings.
func (c *Client) ControlMappings(ctx context.Context, controlKey string) ([]pipeline.Mapping, error) {
	var raw json.RawMessage
	path := "/api/v1/controls/" + seg(controlKey) + "/mappings"
	if err := c.call(ctx, jsonhttp.Request{Path: path}, &raw, notFound{"control", controlKey}); err != nil {
		return nil, err
	}
	// The page object of the list endpoint, or a bare array.
	var page api.MappingPage
	if err := json.Unmarshal(raw, &page); err == nil {
		return page.Mappings, nil
	}
	var list []pipeline.Mapping
	if err := json.Unmarshal(raw, &list); err != nil {
		return nil, fmt.Errorf("nexus-api GET %s: the response is not the JSON nexus expects (%v); it starts %q", path, err, jsonhttp.Snippet(raw))
	}
	return list, nil
}

// Embed is POST /api/v1/embed.
func (c *Client) Embed(ctx context.Context, req api.EmbedRequest) (api.EmbedResponse, error) {
	var out api.EmbedResponse
	err := c.call(ctx, jsonhttp.Request{Method: http.MethodPost, Path: api.PathEmbed, Body: req}, &out, notFound{})
	return out, err
}

// Retrieve is POST /api/v1/retrieve.
func (c *Client) Retrieve(ctx context.Context, req api.RetrieveRequest) (api.RetrieveResponse, error) {
	var out api.RetrieveResponse
	err := c.call(ctx, jsonhttp.Request{Method: http.MethodPost, Path: api.PathRetrieve, Body: req}, &out, notFound{})
	return out, err
}

// Rerank is POST /api/v1/rerank.
func (c *Client) Rerank(ctx context.Context, req api.RerankRequest) (api.RerankResponse, error) {
	var out api.RerankResponse
	err := c.call(ctx, jsonhttp.Request{Method: http.MethodPost, Path: api.PathRerank, Body: req}, &out, notFound{})
	return out, err
}

// Health is GET /health.
func (c *Client) Health(ctx context.Context) (api.Health, error) {
	var out api.Health
	err := c.call(ctx, jsonhttp.Request{Path: api.PathHealth}, &out, notFound{})
	return out, err
}

// Ready is GET /ready, asked once: a 503 means "not ready yet", so the
// caller decides whether to poll. A not-ready answer returns the Health
// the server sent (status "loading") with the *Error.
func (c *Client) Ready(ctx context.Context) (api.Health, error) {
	var out api.Health
	err := c.call(ctx, jsonhttp.Request{Path: api.PathReady, MaxAttempts: 1}, &out, notFound{})
	var e *Error
	if errors.As(err, &e) {
		_ = json.Unmarshal(e.raw, &out)
	}
	return out, err
}
