package logs

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs/types"
)

// MaxLiveTailGroups is the most log groups one StartLiveTail session takes.
const MaxLiveTailGroups = 10

// FollowOptions configure Follow.
type FollowOptions struct {
	Groups  []string
	Start   time.Time // first poll reads from here; zero: now
	Pattern string

	NoLiveTail   bool          // poll with FilterLogEvents from the start
	Interval     time.Duration // time between polls of one group; 0: 2s
	Limiter      *Limiter      // shared by every group's polls; nil: 4 calls/s, under the 5 TPS quota
	Backoff      Backoff
	DedupeWindow time.Duration // how long event ids are remembered; 0: 5m

	// OnFallback is told why live tail is not used (nil when it was not tried).
	OnFallback func(reason error)
}

// Follow streams new events of o.Groups to fn until ctx ends, then returns
// ctx's error. It uses StartLiveTail when the groups allow (at most ten, all
// resolvable to ARNs) and falls back to polling FilterLogEvents when live
// tail is unavailable or fails. fn is never called concurrently.
func Follow(ctx context.Context, api API, o FollowOptions, fn func(Event)) error {
	if o.Start.IsZero() {
		o.Start = time.Now()
	}
	if !o.NoLiveTail {
		err := liveTail(ctx, api, o, fn)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if o.OnFallback != nil {
			o.OnFallback(err)
		}
	}
	return poll(ctx, api, o, fn)
}

// errLiveTailEnded means the session ended (AWS ends sessions after three
// hours); polling takes over.
var errLiveTailEnded = errors.New("live tail session ended")

func liveTail(ctx context.Context, api API, o FollowOptions, fn func(Event)) error {
	if len(o.Groups) > MaxLiveTailGroups {
		return fmt.Errorf("live tail takes at most %d log groups, not %d", MaxLiveTailGroups, len(o.Groups))
	}
	arns, err := GroupARNs(ctx, api, o.Groups)
	if err != nil {
		return err
	}
	byARN := map[string]string{}
	in := &cloudwatchlogs.StartLiveTailInput{}
	for _, g := range o.Groups {
		in.LogGroupIdentifiers = append(in.LogGroupIdentifiers, arns[g])
		byARN[arns[g]] = g
	}
	if o.Pattern != "" {
		in.LogEventFilterPattern = aws.String(o.Pattern)
	}
	out, err := api.StartLiveTail(ctx, in)
	if err != nil {
		return fmt.Errorf("starting live tail: %w", err)
	}
	stream := out.GetStream()
	defer stream.Close()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case ev, ok := <-stream.Events():
			if !ok {
				if err := stream.Err(); err != nil {
					return err
				}
				return errLiveTailEnded
			}
			upd, ok := ev.(*types.StartLiveTailResponseStreamMemberSessionUpdate)
			if !ok {
				continue
			}
			for _, r := range upd.Value.SessionResults {
				g := byARN[aws.ToString(r.LogGroupIdentifier)]
				if g == "" {
					g = aws.ToString(r.LogGroupIdentifier)
				}
				fn(Event{Group: g, Stream: aws.ToString(r.LogStreamName),
					Timestamp: time.UnixMilli(aws.ToInt64(r.Timestamp)).UTC(), Message: aws.ToString(r.Message)})
			}
		}
	}
}

// Dedupe remembers the ids of events seen in the last Window (by event
// time), so that overlapping polls print each event once in bounded memory.
type Dedupe struct {
	Window time.Duration
	seen   map[string]time.Time
	newest time.Time
}

// First reports whether ev has not been seen before, and records it.
func (d *Dedupe) First(ev Event) bool {
	if d.seen == nil {
		d.seen = map[string]time.Time{}
	}
	if ev.ID == "" {
		return true
	}
	key := ev.Group + "\x00" + ev.ID
	if _, ok := d.seen[key]; ok {
		return false
	}
	d.seen[key] = ev.Timestamp
	if ev.Timestamp.After(d.newest) {
		d.newest = ev.Timestamp
		cutoff := d.newest.Add(-d.Window)
		for k, ts := range d.seen {
			if ts.Before(cutoff) {
				delete(d.seen, k)
			}
		}
	}
	return true
}

// Len is the number of ids remembered.
func (d *Dedupe) Len() int { return len(d.seen) }

func poll(ctx context.Context, api API, o FollowOptions, fn func(Event)) error {
	if o.Interval <= 0 {
		o.Interval = 2 * time.Second
	}
	if o.Limiter == nil {
		o.Limiter = NewLimiter(FilterLogEventsTPS-1, 1)
	}
	if o.DedupeWindow <= 0 {
		o.DedupeWindow = 5 * time.Minute
	}
	var (
		mu    sync.Mutex
		dedup = Dedupe{Window: o.DedupeWindow}
		wg    sync.WaitGroup
		errs  = make(chan error, len(o.Groups))
	)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	for _, g := range o.Groups {
		wg.Add(1)
		go func() {
			defer wg.Done()
			from := o.Start
			for {
				var batch []Event
				err := Filter(ctx, api, FilterOptions{Groups: []string{g}, Start: from, Pattern: o.Pattern, Limiter: o.Limiter, Backoff: o.Backoff},
					func(ev Event) error { batch = append(batch, ev); return nil })
				if err != nil {
					if ctx.Err() == nil {
						errs <- fmt.Errorf("polling %s: %w", g, err)
						cancel()
					}
					return
				}
				sort.SliceStable(batch, func(i, j int) bool { return batch[i].Timestamp.Before(batch[j].Timestamp) })
				mu.Lock()
				for _, ev := range batch {
					if dedup.First(ev) {
						fn(ev)
					}
					// Next poll starts at the newest event seen (inclusive, as
					// more may share its millisecond); dedupe drops repeats.
					if ev.Timestamp.After(from) {
						from = ev.Timestamp
					}
				}
				mu.Unlock()
				t := time.NewTimer(o.Interval)
				select {
				case <-ctx.Done():
					t.Stop()
					return
				case <-t.C:
				}
			}
		}()
	}
	wg.Wait()
	select {
	case err := <-errs:
		return err
	default:
		return ctx.Err()
	}
}
