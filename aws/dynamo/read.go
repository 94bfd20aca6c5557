package dynamo

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// MaxConcurrency bounds the goroutines of a parallel scan, however many
// segments it has: segments beyond it wait for a free worker.
const MaxConcurrency = 16

// Request is one read of items: a Scan, or a Query when KeyCondition is set.
// Names and Values hold the placeholders of KeyCondition and Filter (see
// Builder).
type Request struct {
	Table        string
	Index        string
	KeyCondition string
	Filter       string
	Names        map[string]string
	Values       map[string]types.AttributeValue
	// Projection lists the attributes to return; empty returns them all.
	Projection []string
	// KeyAttributes locate an item in the table or index being read (see
	// Table.KeyAttributes). With them, a read that stops at Limit in the
	// middle of a page can still be resumed exactly; they are fetched even
	// when Projection leaves them out, and removed again before delivery.
	KeyAttributes  []string
	ConsistentRead bool
	// Descending reads a query in descending sort-key order.
	Descending bool
	// PageSize is DynamoDB's Limit: how many items each call evaluates
	// (before filtering). 0 lets DynamoDB fill 1 MB pages.
	PageSize int32
	// Limit stops the read as soon as this many items were delivered; 0
	// reads to the end.
	Limit int
	// Segments > 1 makes a parallel scan; results arrive in no particular
	// order. Queries cannot be segmented.
	Segments int
	// Concurrency bounds the workers of a parallel scan (default and
	// maximum MaxConcurrency).
	Concurrency int
	// Start resumes a read where an earlier one stopped.
	Start *Cursor
	// OnPage, when set, is called after each page is consumed with the
	// items DynamoDB evaluated and those it returned. Calls are serialised.
	OnPage func(scanned, matched int)
}

// Result summarises a read.
type Result struct {
	// Items is how many items were delivered (or counted, for Count).
	Items int `json:"items"`
	// Scanned is how many items DynamoDB evaluated before filtering.
	Scanned int64 `json:"scanned"`
	// Requests is the number of Scan or Query calls made.
	Requests int `json:"requests"`
	// Truncated says the read stopped at Limit before the end.
	Truncated bool `json:"truncated"`
	// Next resumes a truncated read. It is nil when the read was not
	// truncated, or when it stopped inside a page without KeyAttributes.
	Next *Cursor `json:"-"`
}

// Read runs a Scan or Query page by page, calling fn for each item in the
// order pages arrive; fn is never called concurrently. It stops as soon as
// Limit items were delivered, fetching no page it does not need (a parallel
// scan may have one page per worker in flight, which it drops). An error
// from fn stops the read and is returned.
func Read(ctx context.Context, api PagerAPI, req Request, fn func(Item) error) (Result, error) {
	return run(ctx, api, req, false, fn)
}

// Count counts the items a Scan or Query would return, with Select=COUNT
// so no item crosses the network; parallel segments are summed. Limit and
// Projection are ignored.
func Count(ctx context.Context, api PagerAPI, req Request) (Result, error) {
	req.Limit, req.Projection = 0, nil
	return run(ctx, api, req, true, nil)
}

// Cursor is where a read stopped: one position per scan segment.
type Cursor struct {
	Segments []SegmentCursor
}

// SegmentCursor is the position of one segment: finished, not started (no
// Key), or after the item whose key is Key.
type SegmentCursor struct {
	Done bool
	Key  Item
}

type cursorJSON struct {
	V int           `json:"v"`
	S []segmentJSON `json:"s"`
}

type segmentJSON struct {
	D bool           `json:"d,omitempty"`
	K map[string]any `json:"k,omitempty"`
}

// Encode writes the cursor as an opaque, URL-safe token.
func (c *Cursor) Encode() string {
	cj := cursorJSON{V: 1, S: make([]segmentJSON, len(c.Segments))}
	for i, s := range c.Segments {
		cj.S[i] = segmentJSON{D: s.Done}
		if s.Key != nil {
			cj.S[i].K = ItemTyped(s.Key)
		}
	}
	b, _ := json.Marshal(cj) // typed values always marshal
	return base64.RawURLEncoding.EncodeToString(b)
}

// ParseCursor reads a token written by Encode.
func ParseCursor(token string) (*Cursor, error) {
	b, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(strings.TrimSpace(token), "="))
	if err != nil {
		return nil, errors.New("not a token printed by nexus (bad encoding)")
	}
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.UseNumber()
	var cj cursorJSON
	if err := dec.Decode(&cj); err != nil || cj.V != 1 || len(cj.S) == 0 {
		return nil, errors.New("not a token printed by nexus")
	}
	c := &Cursor{Segments: make([]SegmentCursor, len(cj.S))}
	for i, s := range cj.S {
		c.Segments[i].Done = s.D
		if s.K != nil {
			if c.Segments[i].Key, err = ItemFromTyped(s.K); err != nil {
				return nil, fmt.Errorf("not a token printed by nexus: %w", err)
			}
		}
	}
	return c, nil
}

type page struct {
	seg     int
	items   []Item
	count   int
	scanned int64
	last    Item
	err     error
}

type reader struct {
	api        PagerAPI
	req        Request
	count      bool
	names      map[string]string
	projection string
	added      []string // attributes fetched only to locate items
	delivered  atomic.Int64
	requests   atomic.Int64
}

func run(ctx context.Context, api PagerAPI, req Request, count bool, fn func(Item) error) (Result, error) {
	segments := max(req.Segments, 1)
	if req.KeyCondition != "" && segments > 1 {
		return Result{}, errors.New("a query cannot be read in parallel segments")
	}
	pos := make([]SegmentCursor, segments)
	if req.Start != nil {
		if len(req.Start.Segments) != segments {
			return Result{}, fmt.Errorf("the starting token is for %d segment(s), not %d", len(req.Start.Segments), segments)
		}
		for i, s := range req.Start.Segments {
			pos[i] = SegmentCursor{Done: s.Done, Key: s.Key}
		}
	}
	r := &reader{api: api, req: req, count: count}
	r.buildProjection()

	var res Result
	resumable := true
	consume := func(p page) (stop bool, err error) {
		res.Scanned += p.scanned
		if count {
			res.Items += p.count
			pos[p.seg] = SegmentCursor{Done: p.last == nil, Key: p.last}
			if req.OnPage != nil {
				req.OnPage(int(p.scanned), p.count)
			}
			return false, nil
		}
		defer func() {
			if req.OnPage != nil {
				req.OnPage(int(p.scanned), len(p.items))
			}
		}()
		for i, it := range p.items {
			key, ok := r.keyOf(it)
			if err := fn(r.strip(it)); err != nil {
				return true, err
			}
			res.Items++
			r.delivered.Store(int64(res.Items))
			if req.Limit > 0 && res.Items >= req.Limit {
				if i == len(p.items)-1 {
					pos[p.seg] = SegmentCursor{Done: p.last == nil, Key: p.last}
				} else {
					pos[p.seg] = SegmentCursor{Key: key}
					resumable = resumable && ok
				}
				return true, nil
			}
		}
		pos[p.seg] = SegmentCursor{Done: p.last == nil, Key: p.last}
		return false, nil
	}

	var err error
	if segments == 1 {
		err = r.serial(ctx, pos[0], consume)
	} else {
		err = r.parallel(ctx, pos, consume)
	}
	res.Requests = int(r.requests.Load())
	if err != nil {
		return res, err
	}
	for _, p := range pos {
		if !p.Done {
			res.Truncated = true
		}
	}
	if res.Truncated && resumable {
		res.Next = &Cursor{Segments: pos}
	}
	return res, nil
}

func (r *reader) serial(ctx context.Context, start SegmentCursor, consume func(page) (bool, error)) error {
	if start.Done {
		return nil
	}
	key := start.Key
	for {
		p := r.fetch(ctx, 0, key)
		if p.err != nil {
			return p.err
		}
		stop, err := consume(p)
		if err != nil || stop || p.last == nil {
			return err
		}
		key = p.last
	}
}

// parallel runs the segments on a bounded pool of workers and consumes
// their pages here, one at a time. Stopping early (limit reached, fn
// failed, a request failed) closes stop rather than cancelling the
// context: requests already in flight finish and are dropped, so no request
// is aborted half-way (aborted requests crash some emulators, and gain
// nothing). Only the caller's context aborts requests.
func (r *reader) parallel(ctx context.Context, pos []SegmentCursor, consume func(page) (bool, error)) error {
	todo := make(chan int, len(pos))
	for s, p := range pos {
		if !p.Done {
			todo <- s
		}
	}
	close(todo)
	starts := make([]Item, len(pos)) // workers read these, never pos
	for i, p := range pos {
		starts[i] = p.Key
	}
	conc := r.req.Concurrency
	if conc <= 0 || conc > MaxConcurrency {
		conc = MaxConcurrency
	}
	pages := make(chan page)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range min(conc, len(pos)) {
		wg.Go(func() {
			for s := range todo {
				if !r.segment(ctx, s, starts[s], pages, stop) {
					return
				}
			}
		})
	}
	go func() { wg.Wait(); close(pages) }()

	var firstErr error
	stopped := false
	for p := range pages {
		if stopped {
			continue // drain until every worker has seen stop
		}
		if p.err != nil {
			firstErr, stopped = p.err, true
			close(stop)
			continue
		}
		halt, err := consume(p)
		if err != nil || halt {
			firstErr, stopped = err, true
			close(stop)
		}
	}
	return firstErr
}

// segment reads one segment to its end, handing each page to the consumer.
// It returns false when the read was stopped.
func (r *reader) segment(ctx context.Context, s int, key Item, pages chan<- page, stop <-chan struct{}) bool {
	for {
		select {
		case <-stop:
			return false
		case <-ctx.Done():
			return false
		default:
		}
		p := r.fetch(ctx, s, key)
		select {
		case pages <- p:
		case <-stop:
			return false
		}
		if p.err != nil {
			return false
		}
		if p.last == nil {
			return true
		}
		key = p.last
	}
}

func (r *reader) fetch(ctx context.Context, seg int, start Item) page {
	req := &r.req
	p := page{seg: seg}
	var limit *int32
	if req.PageSize > 0 {
		limit = aws.Int32(req.PageSize)
	}
	// Without a filter every evaluated item is returned, so a page never
	// needs to be larger than what is left to deliver.
	if req.Filter == "" && !r.count && req.Limit > 0 {
		left := int32(min(int64(req.Limit)-r.delivered.Load(), 1<<30))
		if left > 0 && (limit == nil || left < *limit) {
			limit = aws.Int32(left)
		}
	}
	var sel types.Select
	if r.count {
		sel = types.SelectCount
	}
	r.requests.Add(1)
	if req.KeyCondition != "" {
		out, err := r.api.Query(ctx, &dynamodb.QueryInput{
			TableName:                 aws.String(req.Table),
			IndexName:                 optional(req.Index),
			KeyConditionExpression:    aws.String(req.KeyCondition),
			FilterExpression:          optional(req.Filter),
			ProjectionExpression:      optional(r.projection),
			ExpressionAttributeNames:  r.names,
			ExpressionAttributeValues: req.Values,
			ConsistentRead:            boolPtr(req.ConsistentRead),
			ScanIndexForward:          descending(req.Descending),
			ExclusiveStartKey:         start,
			Limit:                     limit,
			Select:                    sel,
		})
		if err != nil {
			p.err = err
			return p
		}
		p.items, p.count, p.scanned, p.last = out.Items, int(out.Count), int64(out.ScannedCount), nonEmpty(out.LastEvaluatedKey)
		return p
	}
	in := &dynamodb.ScanInput{
		TableName:                 aws.String(req.Table),
		IndexName:                 optional(req.Index),
		FilterExpression:          optional(req.Filter),
		ProjectionExpression:      optional(r.projection),
		ExpressionAttributeNames:  r.names,
		ExpressionAttributeValues: req.Values,
		ConsistentRead:            boolPtr(req.ConsistentRead),
		ExclusiveStartKey:         start,
		Limit:                     limit,
		Select:                    sel,
	}
	if req.Segments > 1 {
		in.Segment, in.TotalSegments = aws.Int32(int32(seg)), aws.Int32(int32(req.Segments))
	}
	out, err := r.api.Scan(ctx, in)
	if err != nil {
		p.err = err
		return p
	}
	p.items, p.count, p.scanned, p.last = out.Items, int(out.Count), int64(out.ScannedCount), nonEmpty(out.LastEvaluatedKey)
	return p
}

// buildProjection turns the attribute list into a projection expression
// with placeholders of its own, adding the key attributes.
func (r *reader) buildProjection() {
	names := maps.Clone(r.req.Names)
	if len(r.req.Projection) == 0 || r.count {
		r.names = nilIfEmpty(names)
		return
	}
	if names == nil {
		names = map[string]string{}
	}
	want := map[string]bool{}
	attrs := append([]string{}, r.req.Projection...)
	for _, a := range attrs {
		want[a] = true
	}
	for _, k := range r.req.KeyAttributes {
		if !want[k] {
			want[k] = true
			attrs = append(attrs, k)
			r.added = append(r.added, k)
		}
	}
	ps := make([]string, len(attrs))
	for i, a := range attrs {
		p := "#nxp" + strconv.Itoa(i)
		for names[p] != "" {
			p += "x"
		}
		names[p] = a
		ps[i] = p
	}
	r.names = names
	r.projection = strings.Join(ps, ", ")
}

func (r *reader) keyOf(it Item) (Item, bool) {
	if len(r.req.KeyAttributes) == 0 {
		return nil, false
	}
	key := make(Item, len(r.req.KeyAttributes))
	for _, k := range r.req.KeyAttributes {
		v, ok := it[k]
		if !ok {
			return nil, false
		}
		key[k] = v
	}
	return key, true
}

func (r *reader) strip(it Item) Item {
	if len(r.added) == 0 {
		return it
	}
	for _, k := range r.added {
		delete(it, k)
	}
	return it
}

func optional(s string) *string {
	if s == "" {
		return nil
	}
	return aws.String(s)
}

func boolPtr(b bool) *bool {
	if !b {
		return nil
	}
	return aws.Bool(true)
}

// descending asks a query for descending order; nil keeps the default.
func descending(d bool) *bool {
	if !d {
		return nil
	}
	return aws.Bool(false)
}

func nonEmpty(m Item) Item {
	if len(m) == 0 {
		return nil
	}
	return m
}

func nilIfEmpty(m map[string]string) map[string]string {
	if len(m) == 0 {
		return nil
	}
	return m
}
