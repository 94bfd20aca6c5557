package queue

import (
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
)

func TestPackBySize(t *testing.T) {
	msg := func(n int) types.Message { return types.Message{Body: aws.String(strings.Repeat("x", n))} }
	sizes := func(batches [][]types.Message) []int {
		out := make([]int, len(batches))
		for i, b := range batches {
			out[i] = len(b)
		}
		return out
	}
	for _, tc := range []struct {
		name string
		msgs []types.Message
		want []int
	}{
		{"none", nil, []int{}},
		{"ten small", repeat(msg(100), 10), []int{10}},
		{"over the limit", repeat(msg(60*1024), 10), []int{4, 4, 2}},
		{"one too big travels alone", []types.Message{msg(10), msg(300 * 1024), msg(10)}, []int{1, 1, 1}},
	} {
		got := sizes(packBySize(tc.msgs))
		if len(got) != len(tc.want) {
			t.Errorf("%s: batches %v, want %v", tc.name, got, tc.want)
			continue
		}
		for i := range got {
			if got[i] != tc.want[i] {
				t.Errorf("%s: batches %v, want %v", tc.name, got, tc.want)
				break
			}
		}
	}
}

func repeat(m types.Message, n int) []types.Message {
	out := make([]types.Message, n)
	for i := range out {
		out[i] = m
	}
	return out
}
