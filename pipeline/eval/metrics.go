package eval

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"strconv"
)

// DefaultKs are the cut-offs recall is reported at.
var DefaultKs = []int{5, 10, 20, 50}

// NDCGCutoff is the depth nDCG is reported at: the seed's workflow shows a
// reviewer the top 20 candidates.
const NDCGCutoff = 20

// Metrics are the quality of one method over a set of queries, each the
// mean over queries (macro average).
type Metrics struct {
	Ks     []int           // the cut-offs of Recall, ascending
	Recall map[int]float64 // k → recall@k
	MRR    float64
	NDCG   float64 // nDCG@NDCGCutoff
}

// QueryMetrics scores one ranking against the relevant set: recall@k for
// each k, reciprocal rank of the first relevant item, and binary-relevance
// nDCG@NDCGCutoff. Items of ranked not in relevant are misses; a query with
// no relevant items scores zero everywhere.
func QueryMetrics(ranked []string, relevant map[string]bool, ks []int) Metrics {
	m := Metrics{Ks: ks, Recall: make(map[int]float64, len(ks))}
	if len(relevant) == 0 {
		for _, k := range ks {
			m.Recall[k] = 0
		}
		return m
	}
	hitsAt := make([]int, len(ranked)+1) // hitsAt[i] = relevant items in ranked[:i]
	var dcg float64
	for i, id := range ranked {
		hitsAt[i+1] = hitsAt[i]
		if !relevant[id] {
			continue
		}
		hitsAt[i+1]++
		if m.MRR == 0 {
			m.MRR = 1 / float64(i+1)
		}
		if i < NDCGCutoff {
			dcg += 1 / math.Log2(float64(i+2))
		}
	}
	for _, k := range ks {
		m.Recall[k] = float64(hitsAt[min(k, len(ranked))]) / float64(len(relevant))
	}
	var ideal float64
	for i := 0; i < min(len(relevant), NDCGCutoff); i++ {
		ideal += 1 / math.Log2(float64(i+2))
	}
	m.NDCG = dcg / ideal
	return m
}

// Mean averages per-query metrics.
func Mean(ms []Metrics, ks []int) Metrics {
	out := Metrics{Ks: ks, Recall: make(map[int]float64, len(ks))}
	if len(ms) == 0 {
		for _, k := range ks {
			out.Recall[k] = 0
		}
		return out
	}
	n := float64(len(ms))
	for _, m := range ms {
		for _, k := range ks {
			out.Recall[k] += m.Recall[k] / n
		}
		out.MRR += m.MRR / n
		out.NDCG += m.NDCG / n
	}
	return out
}

// Keys are the metric names in report order: recall@k…, mrr, ndcg@20.
func (m Metrics) Keys() []string {
	keys := make([]string, 0, len(m.Ks)+2)
	for _, k := range m.Ks {
		keys = append(keys, "recall@"+strconv.Itoa(k))
	}
	return append(keys, "mrr", "ndcg@"+strconv.Itoa(NDCGCutoff))
}

// Value returns a metric by its name in Keys.
func (m Metrics) Value(key string) (float64, bool) {
	switch key {
	case "mrr":
		return m.MRR, true
	case "ndcg@" + strconv.Itoa(NDCGCutoff):
		return m.NDCG, true
	}
	var k int
	if _, err := fmt.Sscanf(key, "recall@%d", &k); err == nil {
		v, ok := m.Recall[k]
		return v, ok
	}
	return 0, false
}

// MarshalJSON writes {"recall@5": …, …, "mrr": …, "ndcg@20": …} in that
// order, rounded to four decimals: more digits than the data can support
// only make diffs noisy.
func (m Metrics) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, k := range m.Keys() {
		if i > 0 {
			b.WriteByte(',')
		}
		v, _ := m.Value(k)
		kb, _ := json.Marshal(k)
		b.Write(kb)
		b.WriteByte(':')
		b.WriteString(strconv.FormatFloat(round4(v), 'f', -1, 64))
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

// UnmarshalJSON reads what MarshalJSON writes.
func (m *Metrics) UnmarshalJSON(data []byte) error {
	var raw map[string]float64
	if err := json.Unmarshal(data, &raw); err != nil {
		return err
	}
	*m = Metrics{Recall: map[int]float64{}}
	for key, v := range raw {
		var k int
		switch {
		case key == "mrr":
			m.MRR = v
		case key == "ndcg@"+strconv.Itoa(NDCGCutoff):
			m.NDCG = v
		default:
			if _, err := fmt.Sscanf(key, "recall@%d", &k); err != nil {
				return fmt.Errorf("unknown metric %q", key)
			}
			m.Recall[k] = v
			m.Ks = append(m.Ks, k)
		}
	}
	sort.Ints(m.Ks)
	return nil
}

func round4(v float64) float64 { return math.Round(v*1e4) / 1e4 }
