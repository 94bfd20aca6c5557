package dynamo

import (
	"context"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// BatchWriteAPI is what WriteBatch needs.
type BatchWriteAPI interface {
	BatchWriteItem(ctx context.Context, in *dynamodb.BatchWriteItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.BatchWriteItemOutput, error)
}

// MaxBatchWrite is the most write requests one BatchWriteItem call takes.
const MaxBatchWrite = 25

// Backoff paces the retries of a batch's unprocessed items.
type Backoff struct {
	// Base is the ceiling of the first wait; it doubles on each retry that
	// made no progress, up to Max. Each wait is drawn uniformly below the
	// ceiling ("full jitter"), so concurrent writers throttled together do
	// not retry together.
	Base, Max time.Duration
	// Attempts bounds the calls made for one chunk without any item
	// written; a call that writes some items starts the count again.
	Attempts int
}

// DefaultBackoff suits on-demand tables, whose throttling clears within
// seconds as capacity scales: 50 ms doubling to 5 s, ten fruitless calls.
var DefaultBackoff = Backoff{Base: 50 * time.Millisecond, Max: 5 * time.Second, Attempts: 10}

// WriteBatch writes put items to one table in BatchWriteItem calls of 25.
// Items DynamoDB returns as unprocessed (it does so when the table or a
// partition is throttled, without failing the call) are sent again after a
// jittered exponential wait until all are written, or until b.Attempts calls
// in a row wrote nothing. Errors of the call itself, throttling included,
// are retried by the SDK's retryer before they reach here. The items must
// not repeat a key within a chunk: DynamoDB rejects such a call.
func WriteBatch(ctx context.Context, api BatchWriteAPI, table string, items []Item, b Backoff) error {
	for start := 0; start < len(items); start += MaxBatchWrite {
		chunk := items[start:min(start+MaxBatchWrite, len(items))]
		reqs := make([]types.WriteRequest, len(chunk))
		for i, it := range chunk {
			reqs[i] = types.WriteRequest{PutRequest: &types.PutRequest{Item: it}}
		}
		if err := writeChunk(ctx, api, table, reqs, b); err != nil {
			return fmt.Errorf("writing items %d–%d of %d to %s: %w", start+1, start+len(chunk), len(items), table, err)
		}
	}
	return nil
}

func writeChunk(ctx context.Context, api BatchWriteAPI, table string, reqs []types.WriteRequest, b Backoff) error {
	attempts := max(b.Attempts, 1)
	ceiling := b.Base
	for fruitless := 0; ; {
		out, err := api.BatchWriteItem(ctx, &dynamodb.BatchWriteItemInput{
			RequestItems: map[string][]types.WriteRequest{table: reqs},
		})
		if err != nil {
			return err
		}
		left := out.UnprocessedItems[table]
		if len(left) == 0 {
			return nil
		}
		if len(left) < len(reqs) {
			fruitless, ceiling = 0, b.Base
		} else {
			fruitless++
		}
		if fruitless >= attempts {
			return fmt.Errorf("%d item(s) still unprocessed after %d calls that wrote nothing: the table is throttled; retry later or raise its capacity", len(left), fruitless)
		}
		reqs = left
		if err := sleep(ctx, jitter(ceiling)); err != nil {
			return err
		}
		ceiling = min(ceiling*2, max(b.Max, b.Base))
	}
}

func jitter(ceiling time.Duration) time.Duration {
	if ceiling <= 0 {
		return 0
	}
	return rand.N(ceiling) + 1
}

// sleep waits d, or returns the context's error if it ends first.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
