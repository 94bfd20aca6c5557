// Package jsonhttp posts JSON to the Nexus services (the Strands agent
// service today) the way every nexus client must: a deadline per attempt,
// retries with jittered backoff on 429, 5xx and network failures, the
// server's Retry-After honoured, an optional bearer token that never appears
// in an error, and errors that carry the status and the service's own
// message.
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
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Options tune a Client; zero fields take the defaults.
type Options struct {
	// Token, when set, is sent as "Authorization: Bearer <token>". It is
	// never part of an error or a retry report.
	Token string
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

// Client posts JSON to one service.
type Client struct {
	service string // named in errors: "strands"
	base    *url.URL
	http    *http.Client
	opts    Options
}

// New returns a client for the service at baseURL (http or https; a path
// prefix is kept). A nil httpClient uses http.DefaultClient.
func New(service, baseURL string, httpClient *http.Client, opts Options) (*Client, error) {
	u, err := url.Parse(strings.TrimSpace(baseURL))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("%s endpoint %q is not an http(s) URL (e.g. http://strands.internal:8080)", service, baseURL)
	}
	u.Path = strings.TrimRight(u.Path, "/")
	if httpClient == nil {
		httpClient = http.DefaultClient
	}
	return &Client{service: service, base: u, http: httpClient, opts: opts.withDefaults()}, nil
}

// StatusError is a response outside 2xx, or a 2xx response whose status
// field says the service failed.
type StatusError struct {
	Service    string // "strands"
	Path       string // "/api/v1/reason"
	StatusCode int
	Status     string // "503 Service Unavailable"
	Message    string // the service's own words, when it gave any
	Attempts   int
	RetryAfter time.Duration // what the server asked for, if anything
}

func (e *StatusError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s POST %s: %s", e.Service, e.Path, e.Status)
	if e.Message != "" {
		b.WriteString(": " + e.Message)
	}
	if e.Attempts > 1 {
		fmt.Fprintf(&b, " (after %d attempts)", e.Attempts)
	}
	return b.String()
}

// Post sends in as JSON to path and decodes the 2xx response into out.
func (c *Client) Post(ctx context.Context, path string, in, out any) error {
	body, err := json.Marshal(in)
	if err != nil {
		return fmt.Errorf("%s POST %s: encoding the request: %w", c.service, path, err)
	}
	target := c.base.JoinPath(path).String()
	ceiling := c.opts.Backoff
	for attempt := 1; ; attempt++ {
		data, resp, err := c.attempt(ctx, target, body)
		var wait time.Duration
		switch {
		case ctx.Err() != nil:
			return fmt.Errorf("%s POST %s: %w", c.service, path, ctx.Err())
		case err != nil:
			err = fmt.Errorf("%s POST %s: %w", c.service, path, err)
		case resp.StatusCode >= 200 && resp.StatusCode < 300:
			return c.decode(path, resp, data, out, attempt)
		default:
			se := &StatusError{
				Service: c.service, Path: path, StatusCode: resp.StatusCode, Status: resp.Status,
				Message: message(data), Attempts: attempt, RetryAfter: retryAfter(resp.Header.Get("Retry-After"), time.Now()),
			}
			if !retryable(resp.StatusCode) {
				return se
			}
			if se.RetryAfter > c.opts.MaxRetryAfter {
				se.Message = strings.TrimPrefix(se.Message+"; ", "; ") + fmt.Sprintf("the service asked to retry after %s, longer than nexus waits", se.RetryAfter.Round(time.Second))
				return se
			}
			err, wait = se, se.RetryAfter
		}
		if attempt >= c.opts.MaxAttempts {
			if se := (*StatusError)(nil); !errors.As(err, &se) {
				err = fmt.Errorf("%w (after %d attempts)", err, attempt)
			}
			return err
		}
		if wait == 0 {
			wait = rand.N(ceiling) + 1
			ceiling = min(ceiling*2, c.opts.MaxBackoff)
		}
		if c.opts.OnRetry != nil {
			c.opts.OnRetry(attempt, wait, err)
		}
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("%s POST %s: %w (while waiting to retry: %v)", c.service, path, ctx.Err(), err)
		}
	}
}

// maxBody bounds what is read of a response: an enrichment with every
// agent's output is tens of kilobytes, so 16 MiB means a broken server.
const maxBody = 16 << 20

// attempt makes one call under its own deadline and reads the whole body,
// so the deadline covers a server that stalls mid-response too.
func (c *Client) attempt(ctx context.Context, target string, body []byte) ([]byte, *http.Response, error) {
	actx, cancel := context.WithTimeout(ctx, c.opts.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(actx, http.MethodPost, target, bytes.NewReader(body))
	if err != nil {
		return nil, nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	if c.opts.Token != "" {
		req.Header.Set("Authorization", "Bearer "+c.opts.Token)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, nil, c.transportError(actx, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxBody+1))
	if err != nil {
		return nil, nil, c.transportError(actx, fmt.Errorf("reading the response: %w", err))
	}
	if len(data) > maxBody {
		return nil, nil, fmt.Errorf("the response is larger than %d MiB", maxBody>>20)
	}
	return data, resp, nil
}

// transportError says plainly when the attempt ran out of time, and strips
// the URL net/http repeats (the caller names the path already; the host may
// carry credentials).
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

func (c *Client) decode(path string, resp *http.Response, data []byte, out any, attempt int) error {
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("%s POST %s: the %s response is not the JSON nexus expects (%v); it starts %q", c.service, path, resp.Status, err, snippet(data))
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
		return &StatusError{Service: c.service, Path: path, StatusCode: resp.StatusCode, Status: resp.Status, Message: msg, Attempts: attempt}
	}
	return nil
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
