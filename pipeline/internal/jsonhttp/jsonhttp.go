// Package jsonhttp speaks JSON to the Nexus services (the Strands agent
// service, the mapping and science APIs) the way every nexus client must: a
// deadline per attempt, retries with jittered backoff on 429, 5xx and
// network failures, the server's Retry-After honoured, credentials from an
// Authorizer (or a bearer token) that never appear in an error or a log,
// request ids captured, and errors that carry the status and the service's
// own message.
package jsonhttp

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Options tune a Client; zero fields take the defaults.
type Options struct {
	// Token, when set and Authorizer is nil, is sent as
	// "Authorization: Bearer <token>". It is never part of an error or a
	// retry report.
	Token string
	// Authorizer, when set, adds credentials to every attempt (it replaces
	// Token). When it is also a Refresher, a 401 refreshes it once and the
	// call is repeated.
	Authorizer Authorizer
	// UserAgent, when set, is sent as the User-Agent header.
	UserAgent string
	// Timeout bounds each attempt (default 120 s: agent calls run an LLM,
	// and the seed gives the enrichment Lambda that long).
	Timeout time.Duration
	// MaxAttempts bounds the calls made for one request (default 4).
	MaxAttempts int
	// Backoff is the ceiling of the first retry's wait (default 500 ms); it
	// doubles per retry up to MaxBackoff (default 20 s). Waits are drawn
	// below the ceiling, so clients that failed together spread out.
	Backoff, MaxBackoff time.Duration
	// MaxRetryAfter is the longest Retry-After the client waits out
	// (default 60 s); a longer one fails the request at once, since
	// blocking a pipeline for minutes helps nobody.
	MaxRetryAfter time.Duration
	// OnRetry, when set, hears of each retry before its wait (for --debug).
	OnRetry func(attempt int, wait time.Duration, err error)
	// Debug, when set, receives one line per attempt: method, path (never
	// the query), status, duration and request id. Never headers or bodies.
	Debug io.Writer
}

// Authorizer adds credentials to a request just before it is sent. body is
// the exact request body (nil for none), for signers that hash it. An
// Authorizer must keep its secrets out of the errors it returns.
type Authorizer interface {
	Authorize(ctx context.Context, req *http.Request, body []byte) error
}

// Refresher is an Authorizer whose credentials can be renewed after the
// server answered 401.
type Refresher interface {
	Refresh(ctx context.Context) error
}

func (o Options) withDefaults() Options {
	if o.Timeout <= 0 {
		o.Timeout = 120 * time.Second
	}
	if o.MaxAttempts <= 0 {
		o.MaxAttempts = 4
	}
	if o.Backoff <= 0 {
		o.Backoff = 500 * time.Millisecond
	}
	if o.MaxBackoff < o.Backoff {
		o.MaxBackoff = max(20*time.Second, o.Backoff)
	}
	if o.MaxRetryAfter <= 0 {
		o.MaxRetryAfter = time.Minute
	}
	return o
}

// Client speaks JSON to one service.
type Client struct {
	service string // named in errors: "strands"
	base    *url.URL
	http    *http.Client
	opts    Options
	debugMu sync.Mutex
}

// New returns a client for the service at baseURL (http or https; a path
// prefix is kept). A nil httpClient uses http.DefaultClient.
func New(service, baseURL string, httpClient *http.Client, opts Options) (*Client, error) {
	u, err := url.Parse(strings.TrimSpace(baseURL))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("%s endpoint %q is not an http(s) URL (e.g. http://strands.internal:8080)", service, redactURL(baseURL))
	}
	if u.User != nil {
		return nil, fmt.Errorf("%s endpoint must not carry credentials in the URL; configure a token instead", service)
	}
	u.Path = strings.TrimRight(u.Path, "/")
	u.RawPath = strings.TrimRight(u.RawPath, "/")
	u.RawQuery, u.Fragment = "", ""
	if httpClient == nil {
		httpClient = http.DefaultClient
	}
	return &Client{service: service, base: u, http: httpClient, opts: opts.withDefaults()}, nil
}

// redactURL keeps a URL's userinfo out of messages.
func redactURL(s string) string {
	if u, err := url.Parse(strings.TrimSpace(s)); err == nil && u.User != nil {
		return u.Redacted()
	}
	return s
}

// StatusError is a response outside 2xx, or a 2xx response whose status
// field says the service failed.
type StatusError struct {
	Service    string // "strands"
	Method     string // "POST" when empty
	Path       string // "/api/v1/reason"
	StatusCode int
	Status     string // "503 Service Unavailable"
	Message    string // the service's own words, when it gave any
	Attempts   int
	RetryAfter time.Duration // what the server asked for, if anything
	RequestID  string        // x-amzn-RequestId, x-amz-apigw-id or X-Request-Id
	Body       []byte        // the response body (at most 64 KiB), for callers that parse it
}

func (e *StatusError) Error() string {
	var b strings.Builder
	method := e.Method
	if method == "" {
		method = http.MethodPost
	}
	fmt.Fprintf(&b, "%s %s %s: %s", e.Service, method, e.Path, e.Status)
	if e.Message != "" {
		b.WriteString(": " + e.Message)
	}
	var notes []string
	if e.RequestID != "" {
		notes = append(notes, "request id "+e.RequestID)
	}
	if e.Attempts > 1 {
		notes = append(notes, fmt.Sprintf("after %d attempts", e.Attempts))
	}
	if len(notes) > 0 {
		b.WriteString(" (" + strings.Join(notes, ", ") + ")")
	}
	return b.String()
}

// Request is one call made with Do.
type Request struct {
	Method string // GET when empty
	// Path is the escaped path below the base URL, e.g.
	// "/api/v1/mappings/A%23B%7CC": escape each dynamic segment with
	// url.PathEscape.
	Path  string
	Query url.Values
	// Body, when non-nil, is sent as JSON.
	Body any
	// NotIdempotent marks a call the server must not act on twice (POST
	// creating a job). It is retried only when it provably never reached
	// the server (no connection was made) or when the server refused it
	// with 429 or 503 and a Retry-After header.
	NotIdempotent bool
	// MaxAttempts overrides Options.MaxAttempts for this call when > 0.
	MaxAttempts int
}

// Response describes the 2xx answer of Do.
type Response struct {
	StatusCode int
	RequestID  string
	Attempts   int
	Header     http.Header
}

// RequestID returns the request id a response carries: API Gateway's
// x-amzn-RequestId or x-amz-apigw-id, else X-Request-Id.
func RequestID(h http.Header) string {
	for _, k := range []string{"X-Amzn-Requestid", "X-Amz-Apigw-Id", "X-Request-Id"} {
		if v := strings.TrimSpace(h.Get(k)); v != "" {
			return v
		}
	}
	return ""
}

// Post sends in as JSON to path and decodes the 2xx response into out. A
// 2xx body whose "status" field is not "success" is a failure (the agent
// service reports some failures that way).
func (c *Client) Post(ctx context.Context, path string, in, out any) error {
	_, err := c.do(ctx, Request{Method: http.MethodPost, Path: path, Body: in}, out, true)
	return err
}

// Do makes the call r and decodes a 2xx JSON response into out (skipped
// when out is nil or the body is empty).
func (c *Client) Do(ctx context.Context, r Request, out any) (*Response, error) {
	return c.do(ctx, r, out, false)
}

func (c *Client) do(ctx context.Context, r Request, out any, strict bool) (*Response, error) {
	if r.Method == "" {
		r.Method = http.MethodGet
	}
	prefix := fmt.Sprintf("%s %s %s", c.service, r.Method, r.Path)
	var body []byte
	if r.Body != nil {
		var err error
		if body, err = json.Marshal(r.Body); err != nil {
			return nil, fmt.Errorf("%s: encoding the request: %w", prefix, err)
		}
	}
	target, err := url.Parse(c.base.String() + r.Path)
	if err != nil {
		return nil, fmt.Errorf("%s: bad path: %w", prefix, err)
	}
	if len(r.Query) > 0 {
		target.RawQuery = r.Query.Encode()
	}
	maxAttempts := c.opts.MaxAttempts
	if r.MaxAttempts > 0 {
		maxAttempts = r.MaxAttempts
	}
	refresher, _ := c.opts.Authorizer.(Refresher)
	refreshed := false
	ceiling := c.opts.Backoff
	for calls := 1; ; calls++ {
		data, resp, reached, err := c.attempt(ctx, r, target.String(), body, calls)
		var wait time.Duration
		switch {
		case ctx.Err() != nil:
			return nil, fmt.Errorf("%s: %w", prefix, ctx.Err())
		case err != nil:
			err = fmt.Errorf("%s: %w", prefix, err)
			if r.NotIdempotent && reached {
				// The request may have reached the server: repeating it
				// could act twice.
				return nil, fmt.Errorf("%w (not retried: the server may have received it)", err)
			}
		case resp.StatusCode >= 200 && resp.StatusCode < 300:
			return c.decode(prefix, r, resp, data, out, calls, strict)
		case resp.StatusCode == http.StatusUnauthorized && refresher != nil && !refreshed:
			// Credentials expired: renew them once and repeat at once (a
			// 401 means the server did not act, whatever the method).
			refreshed = true
			if rerr := refresher.Refresh(ctx); rerr != nil {
				se := c.statusError(r, resp, data, calls)
				se.Message = strings.TrimPrefix(se.Message+"; ", "; ") + "refreshing the credentials failed: " + rerr.Error()
				return nil, se
			}
			if c.opts.OnRetry != nil {
				c.opts.OnRetry(calls, 0, c.statusError(r, resp, data, calls))
			}
			continue
		default:
			se := c.statusError(r, resp, data, calls)
			if !retryable(resp.StatusCode) {
				return nil, se
			}
			if r.NotIdempotent && !refusedUnprocessed(resp) {
				return nil, se
			}
			if se.RetryAfter > c.opts.MaxRetryAfter {
				se.Message = strings.TrimPrefix(se.Message+"; ", "; ") + fmt.Sprintf("the service asked to retry after %s, longer than nexus waits", se.RetryAfter.Round(time.Second))
				return nil, se
			}
			err, wait = se, se.RetryAfter
		}
		used := calls
		if refreshed {
			used-- // the repeat after a refresh is not a retry
		}
		if used >= maxAttempts {
			if se := (*StatusError)(nil); !errors.As(err, &se) && calls > 1 {
				err = fmt.Errorf("%w (after %d attempts)", err, calls)
			}
			return nil, err
		}
		if wait == 0 {
			wait = rand.N(ceiling) + 1
			ceiling = min(ceiling*2, c.opts.MaxBackoff)
		}
		if c.opts.OnRetry != nil {
			c.opts.OnRetry(calls, wait, err)
		}
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return nil, fmt.Errorf("%s: %w (while waiting to retry: %v)", prefix, ctx.Err(), err)
		}
	}
}

// refusedUnprocessed reports whether the server said it refused the call
// without acting on it: 429 or 503 with a Retry-After (throttling and
// maintenance answers come from the gateway or load balancer before any
// handler runs). A bare 500, 502 or 504 may come after the handler acted.
func refusedUnprocessed(resp *http.Response) bool {
	return (resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusServiceUnavailable) &&
		strings.TrimSpace(resp.Header.Get("Retry-After")) != ""
}

const maxErrorBody = 64 << 10

func (c *Client) statusError(r Request, resp *http.Response, data []byte, calls int) *StatusError {
	raw := data
	if len(raw) > maxErrorBody {
		raw = raw[:maxErrorBody]
	}
	return &StatusError{
		Service: c.service, Method: r.Method, Path: r.Path, StatusCode: resp.StatusCode, Status: resp.Status,
		Message: message(data), Attempts: calls, RetryAfter: retryAfter(resp.Header.Get("Retry-After"), time.Now()),
		RequestID: RequestID(resp.Header), Body: raw,
	}
}

// maxBody bounds what is read of a response: an enrichment with every
// agent's output is tens of kilobytes, so 16 MiB means a broken server.
const maxBody = 16 << 20

// attempt makes one call under its own deadline and reads the whole body,
// so the deadline covers a server that stalls mid-response too. reached
// says whether a connection to the server was obtained (after which the
// server may have seen the request).
func (c *Client) attempt(ctx context.Context, r Request, target string, body []byte, n int) (data []byte, resp *http.Response, reached bool, err error) {
	start := time.Now()
	defer func() { c.debug(r, n, start, resp, err) }()
	actx, cancel := context.WithTimeout(ctx, c.opts.Timeout)
	defer cancel()
	var gotConn atomic.Bool
	actx = httptrace.WithClientTrace(actx, &httptrace.ClientTrace{GotConn: func(httptrace.GotConnInfo) { gotConn.Store(true) }})
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(actx, r.Method, target, rd)
	if err != nil {
		return nil, nil, false, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json")
	if c.opts.UserAgent != "" {
		req.Header.Set("User-Agent", c.opts.UserAgent)
	}
	switch {
	case c.opts.Authorizer != nil:
		if err := c.opts.Authorizer.Authorize(actx, req, body); err != nil {
			return nil, nil, false, fmt.Errorf("authorizing the request: %w", err)
		}
	case c.opts.Token != "":
		req.Header.Set("Authorization", "Bearer "+c.opts.Token)
	}
	resp, err = c.http.Do(req)
	if err != nil {
		return nil, nil, gotConn.Load(), c.transportError(actx, err)
	}
	defer resp.Body.Close()
	data, err = io.ReadAll(io.LimitReader(resp.Body, maxBody+1))
	if err != nil {
		return nil, nil, true, c.transportError(actx, fmt.Errorf("reading the response: %w", err))
	}
	if len(data) > maxBody {
		return nil, nil, true, fmt.Errorf("the response is larger than %d MiB", maxBody>>20)
	}
	return data, resp, true, nil
}

// debug writes one line about an attempt: never the query, headers or body.
func (c *Client) debug(r Request, n int, start time.Time, resp *http.Response, err error) {
	if c.opts.Debug == nil {
		return
	}
	outcome := ""
	switch {
	case err != nil:
		outcome = "error: " + err.Error()
	case resp != nil:
		outcome = resp.Status
		if id := RequestID(resp.Header); id != "" {
			outcome += " request-id=" + id
		}
	}
	c.debugMu.Lock()
	defer c.debugMu.Unlock()
	fmt.Fprintf(c.opts.Debug, "%s %s %s attempt=%d %s %s\n", c.service, r.Method, r.Path, n,
		time.Since(start).Round(time.Millisecond), outcome)
}

// transportError says plainly when the attempt ran out of time, and strips
// the URL net/http repeats (the caller names the path already; the query
// may carry a paging token).
func (c *Client) transportError(actx context.Context, err error) error {
	if errors.Is(actx.Err(), context.DeadlineExceeded) {
		return fmt.Errorf("no response within %s", c.opts.Timeout)
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

func (c *Client) decode(prefix string, r Request, resp *http.Response, data []byte, out any, calls int, strict bool) (*Response, error) {
	res := &Response{StatusCode: resp.StatusCode, RequestID: RequestID(resp.Header), Attempts: calls, Header: resp.Header}
	if out == nil || (!strict && len(bytes.TrimSpace(data)) == 0) {
		return res, nil
	}
	if err := json.Unmarshal(data, out); err != nil {
		id := ""
		if res.RequestID != "" {
			id = ", request id " + res.RequestID
		}
		return nil, fmt.Errorf("%s: the %s response is not the JSON nexus expects (%v%s); it starts %q", prefix, resp.Status, err, id, snippet(data))
	}
	if !strict {
		return res, nil
	}
	// The agent service reports some failures in a 200 body.
	var env struct {
		Status string `json:"status"`
	}
	if json.Unmarshal(data, &env) == nil && env.Status != "" && !strings.EqualFold(env.Status, "success") {
		msg := message(data)
		if msg == "" {
			msg = "status " + env.Status
		}
		return nil, &StatusError{Service: c.service, Method: r.Method, Path: r.Path, StatusCode: resp.StatusCode, Status: resp.Status,
			Message: msg, Attempts: calls, RequestID: res.RequestID}
	}
	return res, nil
}

func retryable(code int) bool {
	switch code {
	case http.StatusRequestTimeout, http.StatusTooManyRequests,
		http.StatusInternalServerError, http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return true
	}
	return false
}

// retryAfter reads a Retry-After header: delay seconds or an HTTP date.
func retryAfter(h string, now time.Time) time.Duration {
	h = strings.TrimSpace(h)
	if h == "" {
		return 0
	}
	if s, err := strconv.Atoi(h); err == nil {
		return time.Duration(max(s, 0)) * time.Second
	}
	if t, err := http.ParseTime(h); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}

// Message finds the service's explanation in an error body (see message).
func Message(data []byte) string { return message(data) }

// Snippet is the start of a body as one line of text, for error messages.
func Snippet(data []byte) string { return snippet(data) }

// message finds the service's explanation in an error body: FastAPI's
// detail (a string or a list of validation errors), or a message or error
// field; otherwise the start of the body as text.
func message(data []byte) string {
	var body map[string]any
	if json.Unmarshal(data, &body) == nil {
		for _, k := range []string{"detail", "message", "error", "errorMessage"} {
			if m := text(body[k]); m != "" {
				return m
			}
		}
		return ""
	}
	return snippet(data)
}

func text(v any) string {
	switch x := v.(type) {
	case string:
		return strings.TrimSpace(x)
	case map[string]any:
		return text(x["message"])
	case []any:
		var parts []string
		for _, e := range x {
			if m, ok := e.(map[string]any); ok {
				if loc, ok := m["loc"].([]any); ok && len(loc) > 0 && m["msg"] != nil {
					parts = append(parts, fmt.Sprintf("%v: %v", loc[len(loc)-1], m["msg"]))
					continue
				}
				if s := text(m["msg"]); s != "" {
					parts = append(parts, s)
					continue
				}
			}
			if s := text(e); s != "" {
				parts = append(parts, s)
			}
		}
		return strings.Join(parts, "; ")
	}
	return ""
}

func snippet(data []byte) string {
	r := []rune(strings.Join(strings.Fields(string(data)), " "))
	if len(r) > 200 {
		return string(r[:200]) + "…"
	}
	return string(r)
}
