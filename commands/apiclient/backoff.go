package apiclient

import (
	"context"
	"sync"
	"time"
)

// Backoff is one back-off shared by every worker that calls the API. When
// any worker is told 429 Too Many Requests it calls Hit, and every worker
// waits in Wait until the pause is over, so a rate limit slows the whole
// pool at once instead of each worker retrying on its own (a stampede).
// Consecutive 429s double the pause up to Max; a success resets it.
type Backoff struct {
	// Base is the first pause (default 500ms); Max caps it (default 30s).
	Base, Max time.Duration
	// Now is the clock; tests replace it.
	Now func() time.Time

	mu     sync.Mutex
	until  time.Time
	streak int
	hits   int
}

func (b *Backoff) now() time.Time {
	if b.Now != nil {
		return b.Now()
	}
	return time.Now()
}

// Wait blocks until no pause is in force (or ctx ends).
func (b *Backoff) Wait(ctx context.Context) error {
	for {
		b.mu.Lock()
		d := b.until.Sub(b.now())
		b.mu.Unlock()
		if d <= 0 {
			return ctx.Err()
		}
		t := time.NewTimer(d)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
	}
}

// Hit records a 429: everyone pauses for the server's Retry-After when it
// gave one, else for the next step of the exponential back-off. A pause
// already in force is extended, never shortened, and 429s that arrive
// during one pause (workers that were already in flight) count once.
func (b *Backoff) Hit(retryAfter time.Duration) time.Duration {
	base, maxD := b.Base, b.Max
	if base <= 0 {
		base = 500 * time.Millisecond
	}
	if maxD <= 0 {
		maxD = 30 * time.Second
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.hits++
	now := b.now()
	if now.Before(b.until) && retryAfter <= 0 {
		return b.until.Sub(now) // in-flight workers of the same burst
	}
	d := base << min(b.streak, 16)
	b.streak++
	if retryAfter > 0 {
		d = retryAfter
	}
	d = min(d, maxD)
	if u := now.Add(d); u.After(b.until) {
		b.until = u
	}
	return b.until.Sub(now)
}

// Success ends a streak of 429s.
func (b *Backoff) Success() {
	b.mu.Lock()
	b.streak = 0
	b.mu.Unlock()
}

// Hits is the number of 429s seen.
func (b *Backoff) Hits() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.hits
}

// Do calls call after Wait, and again after each 429 (throttled reports
// one, with the Retry-After when known) until it succeeds, fails
// otherwise, or ctx ends.
func Do[T any](ctx context.Context, b *Backoff, throttled func(error) (bool, time.Duration), call func() (T, error)) (T, error) {
	for {
		var zero T
		if err := b.Wait(ctx); err != nil {
			return zero, err
		}
		v, err := call()
		if err != nil {
			if ok, ra := throttled(err); ok && ctx.Err() == nil {
				b.Hit(ra)
				continue
			}
			return v, err
		}
		b.Success()
		return v, nil
	}
}
