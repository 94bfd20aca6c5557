package apiclient

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

var errThrottled = errors.New("429")

func throttled(err error) (bool, time.Duration) { return errors.Is(err, errThrottled), 0 }

func TestBackoffPausesEveryWorker(t *testing.T) {
	b := &Backoff{Base: 40 * time.Millisecond, Max: time.Second}
	if d := b.Hit(0); d < 30*time.Millisecond {
		t.Fatalf("first pause %s", d)
	}
	// In-flight 429s of the same burst do not stack up or grow the pause.
	if d := b.Hit(0); d > 40*time.Millisecond {
		t.Fatalf("same-burst hit extended the pause to %s", d)
	}
	start := time.Now()
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			if err := b.Wait(context.Background()); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if el := time.Since(start); el < 25*time.Millisecond {
		t.Fatalf("workers did not wait: %s", el)
	}
	// After the pause, another 429 doubles it; a success resets the streak.
	if d := b.Hit(0); d < 70*time.Millisecond {
		t.Fatalf("second pause %s, want doubled", d)
	}
	b.Success()
	if err := b.Wait(context.Background()); err != nil {
		t.Fatal(err)
	}
	if d := b.Hit(0); d > 45*time.Millisecond {
		t.Fatalf("pause after success %s, want base", d)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := b.Wait(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled wait: %v", err)
	}
}

func TestDoSharesTheBackoff(t *testing.T) {
	b := &Backoff{Base: 20 * time.Millisecond, Max: 200 * time.Millisecond}
	var calls, storm atomic.Int64
	storm.Store(5) // the first five calls, whoever makes them, are 429s
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			v, err := Do(context.Background(), b, throttled, func() (int, error) {
				calls.Add(1)
				if storm.Add(-1) >= 0 {
					return 0, errThrottled
				}
				return 1, nil
			})
			if err != nil || v != 1 {
				t.Errorf("%d %v", v, err)
			}
		})
	}
	wg.Wait()
	if b.Hits() != 5 || calls.Load() != 13 {
		t.Fatalf("hits %d calls %d", b.Hits(), calls.Load())
	}
}
