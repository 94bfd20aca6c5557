package reason

import (
	"context"
	"fmt"
	"strings"

	"github.com/nexus-compliance/nexus/pipeline"
)

// Template writes a short justification from a candidate's evidence alone:
// which approved mappings of similar source controls support it, the words
// the two texts share, and the scores. It needs no service, costs
// microseconds and says the same thing for the same evidence every time,
// so it is the reasoner of local and offline runs and the fallback when the
// Strands service is down.
type Template struct {
	// MaxSupport caps how many supporting controls are named (default 3).
	MaxSupport int
	// MaxTerms caps how many shared words are quoted (default 4).
	MaxTerms int
}

var _ pipeline.Reasoner = Template{}

// Signal names the template reads; they match package rank's.
const (
	signalMemory    = "memory"
	signalLexical   = "lexical"
	signalCosine    = "cosine"
	signalHierarchy = "hierarchy"
)

// Reason implements pipeline.Reasoner.
func (t Template) Reason(_ context.Context, src pipeline.Source, c pipeline.Candidate) (string, error) {
	maxSupport, maxTerms := t.MaxSupport, t.MaxTerms
	if maxSupport <= 0 {
		maxSupport = 3
	}
	if maxTerms <= 0 {
		maxTerms = 4
	}
	ev := c.Evidence
	sig := ev.Signals
	var parts []string

	if n := len(ev.SupportedBy); n > 0 {
		ids := make([]string, 0, min(n, maxSupport))
		for _, k := range ev.SupportedBy[:min(n, maxSupport)] {
			ids = append(ids, controlID(k))
		}
		list := strings.Join(ids, ", ")
		if n > maxSupport {
			list += fmt.Sprintf(" and %d more", n-maxSupport)
		}
		s := fmt.Sprintf("An approved mapping of a similar control (%s) points to %s", list, c.Target.ID)
		if n > 1 {
			s = fmt.Sprintf("Approved mappings of %d similar controls (%s) point to %s", n, list, c.Target.ID)
		}
		if v, ok := sig[signalMemory]; ok && v > 0 {
			s += fmt.Sprintf(", %.0f%% of the weighted vote of the most similar approved controls", 100*v)
		}
		parts = append(parts, s+".")
	}

	if len(ev.SharedTerms) > 0 {
		terms := ev.SharedTerms[:min(len(ev.SharedTerms), maxTerms)]
		quoted := make([]string, len(terms))
		for i, w := range terms {
			quoted[i] = "“" + w + "”"
		}
		parts = append(parts, fmt.Sprintf("%s's text shares %s with the source%s.", c.Target.ID, joinAnd(quoted), lexicalStrength(sig)))
	}

	if v, ok := sig[signalCosine]; ok && v > 0 {
		parts = append(parts, fmt.Sprintf("Embedding cosine %.2f.", v))
	}

	if v, ok := sig[signalHierarchy]; ok && v > 0 {
		if c.Target.Parent != "" {
			parts = append(parts, fmt.Sprintf("Its base control %s carries evidence too.", c.Target.Parent))
		} else {
			parts = append(parts, fmt.Sprintf("Enhancements of %s carry evidence too.", c.Target.ID))
		}
	}

	if len(parts) == 0 {
		parts = append(parts, fmt.Sprintf("Weak match: no approved mapping of a similar control points to %s and the texts share no distinctive words.", c.Target.ID))
	}

	head := fmt.Sprintf("%s → %s", sourceName(src), c.Target.ID)
	if c.Target.Title != "" {
		head += " (" + c.Target.Title + ")"
	}
	tail := fmt.Sprintf("Similarity %.2f, rerank %.2f.", c.Similarity, c.Rerank)
	return head + ": " + strings.Join(parts, " ") + " " + tail, nil
}

func sourceName(src pipeline.Source) string {
	if src.Control.ID != "" {
		return src.Control.ID
	}
	if src.Control.Key != "" {
		return controlID(src.Control.Key)
	}
	return "source"
}

// controlID is the id part of a control key, or the key itself when it is
// not one.
func controlID(key string) string {
	if _, id, err := pipeline.SplitControlKey(key); err == nil {
		return id
	}
	return key
}

func lexicalStrength(sig map[string]float64) string {
	v, ok := sig[signalLexical]
	if !ok {
		return ""
	}
	switch {
	case v >= 0.8:
		return " (one of its closest texts)"
	case v >= 0.4:
		return " (a fair textual match)"
	}
	return " (a weak textual match)"
}

func joinAnd(xs []string) string {
	switch len(xs) {
	case 0:
		return ""
	case 1:
		return xs[0]
	}
	return strings.Join(xs[:len(xs)-1], ", ") + " and " + xs[len(xs)-1]
}
