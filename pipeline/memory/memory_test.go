package memory_test

import (
	"math"
	"slices"
	"testing"

	"github.com/nexus-compliance/nexus/pipeline"
	"github.com/nexus-compliance/nexus/pipeline/catalog/catalogtest"
	"github.com/nexus-compliance/nexus/pipeline/memory"
)

const src, tgt = "AWS.Config#1.0#", "NIST-SP-800-53#R5#"

func control(id, title string) pipeline.Control {
	return pipeline.Control{Key: src + id, FrameworkKey: "AWS.Config#1.0", ID: id, Title: title}
}

func approved(from string, to ...string) []pipeline.Mapping {
	var out []pipeline.Mapping
	for _, t := range to {
		out = append(out, pipeline.Mapping{ControlKey: src + from, MappedControlKey: tgt + t, Status: pipeline.MappingApproved})
	}
	return out
}

// world: three backup rules that map alike, two encryption rules that map
// alike, and a rule nothing resembles.
func world() *memory.Memory {
	sources := []pipeline.Control{
		control("ebs-in-backup-plan", "The EBS volume is not in an AWS Backup plan."),
		control("efs-in-backup-plan", "The EFS file system is not in an AWS Backup plan."),
		control("rds-in-backup-plan", "The RDS instance is not in an AWS Backup plan."),
		control("ebs-encrypted", "The EBS volume is not encrypted at rest."),
		control("efs-encrypted", "The EFS file system is not encrypted at rest."),
		control("quantum-widget", "Quantum widgets are calibrated."),
		control("unmapped", "The EFS file system has no mapping yet."),
	}
	var maps []pipeline.Mapping
	for _, id := range []string{"ebs-in-backup-plan", "efs-in-backup-plan", "rds-in-backup-plan"} {
		maps = append(maps, approved(id, "CP-9", "CP-10")...)
	}
	for _, id := range []string{"ebs-encrypted", "efs-encrypted"} {
		maps = append(maps, approved(id, "SC-28", "SC-13")...)
	}
	maps = append(maps, approved("quantum-widget", "XX-1")...)
	// Stored target-first, and a rejected one: read the first, skip the second.
	maps = append(maps, pipeline.Mapping{ControlKey: tgt + "CP-6", MappedControlKey: src + "rds-in-backup-plan", Status: pipeline.MappingApproved})
	maps = append(maps, pipeline.Mapping{ControlKey: src + "unmapped", MappedControlKey: tgt + "AC-1", Status: pipeline.MappingRejected})
	return memory.New(sources, maps, memory.Options{})
}

func only(keys ...string) func(string) bool {
	return func(k string) bool { return slices.Contains(keys, k) }
}

func TestLearnedWordWeights(t *testing.T) {
	m := world()
	if m.Len() != 6 {
		t.Fatalf("%d sources with approved mappings, want 6 (the rejected-only one left out)", m.Len())
	}
	if got := m.Targets(src + "rds-in-backup-plan"); !slices.Equal(got, []string{tgt + "CP-9", tgt + "CP-10", tgt + "CP-6"}) {
		t.Fatalf("targets %v", got)
	}
	// "EFS file system" is shared with the encryption rule, "backup plan"
	// with the other backup rules. The backup rules map alike, the two EFS
	// rules do not, so the backup rules are the nearer neighbours.
	res := m.Recall(memory.Query{Text: "The EFS file system is not in an AWS Backup plan.", Exclude: only(src + "efs-in-backup-plan")})
	if len(res.Neighbors) == 0 || res.Neighbors[0].Source.ID == "efs-encrypted" {
		t.Fatalf("neighbours %+v", res.Neighbors)
	}
	if !(res.Scores[tgt+"CP-9"] > 0.5 && res.Scores[tgt+"CP-9"] > res.Scores[tgt+"SC-28"]) {
		t.Fatalf("scores %v", res.Scores)
	}
	if !slices.Contains(res.Neighbors[0].Shared, "backup") {
		t.Fatalf("shared words %v", res.Neighbors[0].Shared)
	}
	if res.Trained != 5 || math.Abs(res.Prior[tgt+"CP-9"]-2.0/5) > 1e-12 {
		t.Fatalf("trained %d prior %v", res.Trained, res.Prior)
	}
	for _, n := range res.Neighbors {
		if n.Similarity <= 0 || n.Similarity > 1 {
			t.Fatalf("similarity %v", n.Similarity)
		}
	}
}

// TestLeaveOneOut: a query whose only evidence is its own line gets no
// memory signal once that line is excluded.
func TestLeaveOneOut(t *testing.T) {
	m := world()
	text := "Quantum widgets are calibrated."
	with := m.Recall(memory.Query{Text: text})
	if with.Scores[tgt+"XX-1"] != 1 || with.Top() != 1 {
		t.Fatalf("without exclusion the query finds itself: %+v", with)
	}
	without := m.Recall(memory.Query{Text: text, Exclude: only(src + "quantum-widget")})
	if len(without.Scores) != 0 || len(without.Neighbors) != 0 || without.Top() != 0 || without.Prior[tgt+"XX-1"] != 0 {
		t.Fatalf("own line leaked: %+v", without)
	}
	// Excluding a whole fold takes every backup rule's vote away.
	fold := m.Recall(memory.Query{Text: "The EFS file system is not in an AWS Backup plan.",
		Exclude: only(src+"ebs-in-backup-plan", src+"efs-in-backup-plan", src+"rds-in-backup-plan")})
	if fold.Scores[tgt+"CP-9"] != 0 || fold.Prior[tgt+"CP-9"] != 0 {
		t.Fatalf("fold leaked: %+v", fold.Scores)
	}
	if empty := memory.New(nil, nil, memory.Options{}).Recall(memory.Query{Text: text}); len(empty.Scores) != 0 {
		t.Fatal("empty memory voted")
	}
}

// TestExclusionEqualsRebuild: excluding sources gives exactly what a memory
// built without them gives; the learned word weights included, so a held-out
// query's mappings never shape the weights that rank its neighbours.
func TestExclusionEqualsRebuild(t *testing.T) {
	srcs, maps := catalogtest.Mapping(t)
	full := memory.New(srcs, maps, memory.DefaultOptions())
	for _, fold := range [][]int{{0}, {7}, {40}, {3, 8, 13, 18, 23, 28, 33, 38, 43, 48, 53, 58}} {
		held := map[string]bool{}
		for _, i := range fold {
			held[srcs[i].Key] = true
		}
		var rest []pipeline.Control
		for _, s := range srcs {
			if !held[s.Key] {
				rest = append(rest, s)
			}
		}
		rebuilt := memory.New(rest, maps, memory.DefaultOptions())
		for _, i := range fold {
			q := srcs[i].Text()
			a := full.Recall(memory.Query{Text: q, Exclude: func(k string) bool { return held[k] }})
			b := rebuilt.Recall(memory.Query{Text: q})
			if len(a.Neighbors) != len(b.Neighbors) || len(a.Scores) != len(b.Scores) {
				t.Fatalf("fold %v query %d: %d/%d neighbours, %d/%d targets", fold, i, len(a.Neighbors), len(b.Neighbors), len(a.Scores), len(b.Scores))
			}
			for j := range a.Neighbors {
				if a.Neighbors[j].Source.Key != b.Neighbors[j].Source.Key || math.Abs(a.Neighbors[j].Similarity-b.Neighbors[j].Similarity) > 1e-9 {
					t.Fatalf("fold %v query %d neighbour %d: %s %.9f vs %s %.9f", fold, i, j,
						a.Neighbors[j].Source.ID, a.Neighbors[j].Similarity, b.Neighbors[j].Source.ID, b.Neighbors[j].Similarity)
				}
			}
			for k, v := range a.Scores {
				if math.Abs(v-b.Scores[k]) > 1e-9 {
					t.Fatalf("fold %v query %d target %s: %v vs %v", fold, i, k, v, b.Scores[k])
				}
			}
			for _, n := range a.Neighbors {
				if held[n.Source.Key] {
					t.Fatalf("held-out source %s voted", n.Source.Key)
				}
			}
		}
	}
}

func BenchmarkRecall(b *testing.B) {
	srcs, maps := catalogtest.Mapping(b)
	m := memory.New(srcs, maps, memory.DefaultOptions())
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		s := srcs[i%len(srcs)]
		m.Recall(memory.Query{Text: s.Text(), Exclude: func(k string) bool { return k == s.Key }})
	}
}
