package reason

import (
	"context"
	"testing"

	"github.com/nexus-compliance/nexus/pipeline"
)

func TestTemplate(t *testing.T) {
	src := pipeline.Source{Control: pipeline.Control{Key: "AWS.Config#1.0#efs-in-backup-plan", ID: "efs-in-backup-plan"}}
	cp9 := pipeline.Control{Key: "NIST-SP-800-53#R5#CP-9", ID: "CP-9", Title: "System Backup"}
	cp91 := pipeline.Control{Key: "NIST-SP-800-53#R5#CP-9(1)", ID: "CP-9(1)", Title: "Testing for Reliability and Integrity", Parent: "CP-9"}
	for _, tc := range []struct {
		name string
		tpl  Template
		c    pipeline.Candidate
		want string
	}{
		{"memory and words", Template{}, pipeline.Candidate{Target: cp9, Similarity: 0.91, Rerank: 0.93, Evidence: pipeline.Evidence{
			SharedTerms: []string{"backup", "system", "information", "level", "user"},
			SupportedBy: []string{"AWS.Config#1.0#ebs-in-backup-plan", "AWS.Config#1.0#rds-in-backup-plan", "AWS.Config#1.0#s3-in-backup-plan", "AWS.Config#1.0#dynamodb-in-backup-plan"},
			Signals:     map[string]float64{"memory": 0.875, "lexical": 0.62},
		}}, "efs-in-backup-plan → CP-9 (System Backup): Approved mappings of 4 similar controls (ebs-in-backup-plan, rds-in-backup-plan, s3-in-backup-plan and 1 more) point to CP-9, 88% of the weighted vote of the most similar approved controls. CP-9's text shares “backup”, “system”, “information” and “level” with the source (a fair textual match). Similarity 0.91, rerank 0.93."},
		{"one supporter, hierarchy, cosine, caps", Template{MaxSupport: 1, MaxTerms: 1}, pipeline.Candidate{Target: cp91, Similarity: 0.4, Rerank: 0.45, Evidence: pipeline.Evidence{
			SharedTerms: []string{"backup", "test"},
			SupportedBy: []string{"not-a-key"},
			Signals:     map[string]float64{"lexical": 0.1, "cosine": 0.71, "hierarchy": 0.3},
		}}, "efs-in-backup-plan → CP-9(1) (Testing for Reliability and Integrity): An approved mapping of a similar control (not-a-key) points to CP-9(1). CP-9(1)'s text shares “backup” with the source (a weak textual match). Embedding cosine 0.71. Its base control CP-9 carries evidence too. Similarity 0.40, rerank 0.45."},
		{"nothing", Template{}, pipeline.Candidate{Target: pipeline.Control{ID: "AC-2"}, Evidence: pipeline.Evidence{Signals: map[string]float64{"hierarchy": 0.2}}},
			"efs-in-backup-plan → AC-2: Enhancements of AC-2 carry evidence too. Similarity 0.00, rerank 0.00."},
		{"no evidence at all", Template{}, pipeline.Candidate{Target: cp9},
			"efs-in-backup-plan → CP-9 (System Backup): Weak match: no approved mapping of a similar control points to CP-9 and the texts share no distinctive words. Similarity 0.00, rerank 0.00."},
	} {
		got, err := tc.tpl.Reason(context.Background(), src, tc.c)
		if err != nil || got != tc.want {
			t.Errorf("%s:\n got %s\nwant %s (%v)", tc.name, got, tc.want, err)
		}
		again, _ := tc.tpl.Reason(context.Background(), src, tc.c)
		if again != got {
			t.Errorf("%s: not deterministic", tc.name)
		}
	}
	if got := sourceName(pipeline.Source{Control: pipeline.Control{Key: "A#1#x"}}); got != "x" {
		t.Fatal(got)
	}
	if got := sourceName(pipeline.Source{}); got != "source" {
		t.Fatal(got)
	}
}
