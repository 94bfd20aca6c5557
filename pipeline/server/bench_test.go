package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"testing"

	"github.com/nexus-compliance/nexus/pipeline/api"
	"github.com/nexus-compliance/nexus/pipeline/server"
)

// BenchmarkRetrieve posts n targets × 4,096 dims to /api/v1/retrieve over
// loopback: the server's read, decode, search and encode and the client's
// decode of the response are timed; the request body is encoded once,
// outside the timer.
func BenchmarkRetrieve(b *testing.B) {
	e := start(b, server.Config{Store: demoStore(b)})
	for _, n := range []int{1000, 10000} {
		r := rand.New(rand.NewPCG(3, 4))
		body, err := json.Marshal(api.RetrieveRequest{SourceEmbedding: randVecs(r, 1, 4096)[0], TargetEmbeddings: randVecs(r, n, 4096), TopK: 20})
		if err != nil {
			b.Fatal(err)
		}
		b.Run(fmt.Sprintf("targets=%d", n), func(b *testing.B) {
			b.SetBytes(int64(len(body)))
			for b.Loop() {
				resp, err := http.Post(e.ts.URL+api.PathRetrieve, "application/json", bytes.NewReader(body))
				if err != nil {
					b.Fatal(err)
				}
				var out api.RetrieveResponse
				err = json.NewDecoder(resp.Body).Decode(&out)
				resp.Body.Close()
				if err != nil || len(out.Candidates) != 20 {
					b.Fatalf("%d %v", resp.StatusCode, err)
				}
			}
		})
	}
}

// BenchmarkSubmitToCompleted submits one job on the demo catalog and polls
// until it is COMPLETED (the framework's mapper is built before the timer).
func BenchmarkSubmitToCompleted(b *testing.B) {
	store := demoStore(b)
	e := start(b, server.Config{Store: store})
	e.wait(e.submit(srcKey).MappingID, "COMPLETED") // warm the mapper cache
	_ = context.Background()
	for b.Loop() {
		e.wait(e.submit(srcKey).MappingID, "COMPLETED")
	}
}
