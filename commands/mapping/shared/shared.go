// Package shared holds what the `nexus mapping` verbs that use the API
// share: reading a mapping key and showing one mapping.
package shared

import (
	"strconv"
	"strings"

	"github.com/nexus-compliance/nexus/commands/cmdutil"
	"github.com/nexus-compliance/nexus/pipeline"
)

// Key reads the mapping named by the arguments: one mapping key
// (SOURCE|TARGET) or the two control keys, in any order.
func Key(args []string) (string, error) {
	var a, b string
	switch len(args) {
	case 1:
		var ok bool
		a, b, ok = strings.Cut(strings.TrimSpace(args[0]), "|")
		if !ok {
			return "", cmdutil.FlagErrorf("expected a mapping key SOURCE|TARGET (quote it: the | is a pipe to the shell) or the two control keys, e.g. %q", pipeline.ExampleControlKey+"|NIST-SP-800-53#R5#SC-28")
		}
	case 2:
		a, b = args[0], args[1]
	default:
		return "", cmdutil.FlagErrorf("expected one mapping key SOURCE|TARGET or the two control keys SOURCE TARGET")
	}
	a, b = strings.TrimSpace(a), strings.TrimSpace(b)
	for _, k := range []string{a, b} {
		if err := pipeline.ValidateControlKey(k); err != nil {
			return "", &cmdutil.FlagError{Err: err}
		}
	}
	return pipeline.MappingKey(a, b), nil
}

// Detail is the describe view of a mapping.
func Detail(m pipeline.Mapping) [][]string {
	rows := [][]string{
		{"Mapping key", m.MappingKey},
		{"Control", m.ControlKey},
		{"Mapped control", m.MappedControlKey},
		{"Status", string(m.Status)},
		{"Similarity", Score(m.SimilarityScore)},
		{"Rerank", Score(m.RerankScore)},
	}
	if m.Reasoning != "" {
		rows = append(rows, []string{"Reasoning", m.Reasoning})
	}
	if m.Timestamp != "" {
		rows = append(rows, []string{"Updated", m.Timestamp})
	}
	return rows
}

// Score shows an optional score.
func Score(f *float64) string {
	if f == nil {
		return "-"
	}
	return strconv.FormatFloat(*f, 'f', -1, 64)
}
