package rank_test

import (
	"context"
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/nexus-compliance/nexus/pipeline"
	"github.com/nexus-compliance/nexus/pipeline/rank"
)

const fw, srcFW = "NIST-SP-800-53#R5", "AWS.Config#1.0"

func target(id, parent, title, statement string) pipeline.Control {
	return pipeline.Control{Key: fw + "#" + id, FrameworkKey: fw, ID: id, Parent: parent, Title: title, Description: statement}
}

func targets() []pipeline.Control {
	return []pipeline.Control{
		target("AC-2", "", "Account Management", "Define and document the types of accounts allowed; assign account managers."),
		target("CP-9", "", "System Backup", "Conduct backups of user-level and system-level information."),
		target("CP-9(1)", "CP-9", "Testing for Reliability and Integrity", "Test backup information to verify media reliability."),
		target("CP-10", "", "System Recovery and Reconstitution", "Provide for the recovery and reconstitution of the system."),
		target("SC-13", "", "Cryptographic Protection", "Implement cryptographic mechanisms."),
		target("SC-28", "", "Protection of Information at Rest", "Protect the confidentiality and integrity of information at rest."),
		target("SC-28(1)", "SC-28", "Cryptographic Protection", "Implement cryptographic mechanisms to prevent unauthorized disclosure of information at rest."),
		target("XX-1", "", "Widget Calibration", "Calibrate widgets."),
		{Key: fw + "#CP-9(4)", FrameworkKey: fw, ID: "CP-9(4)", Parent: "CP-9", Title: "Protection from Unauthorized Modification", Withdrawn: true},
	}
}

func source(id, title string) pipeline.Control {
	return pipeline.Control{Key: srcFW + "#" + id, FrameworkKey: srcFW, ID: id, Title: title}
}

func sources() ([]pipeline.Control, []pipeline.Mapping) {
	srcs := []pipeline.Control{
		source("ebs-in-backup-plan", "The EBS volume is not in an AWS Backup plan."),
		source("efs-in-backup-plan", "The EFS file system is not in an AWS Backup plan."),
		source("rds-in-backup-plan", "The RDS instance is not in an AWS Backup plan."),
		source("ebs-encrypted", "The EBS volume is not encrypted at rest."),
		source("efs-encrypted", "The EFS file system is not encrypted at rest."),
		source("quantum-widget", "Quantum widgets are calibrated."),
	}
	var maps []pipeline.Mapping
	add := func(from string, to ...string) {
		for _, t := range to {
			maps = append(maps, pipeline.Mapping{ControlKey: srcFW + "#" + from, MappedControlKey: fw + "#" + t, Status: pipeline.MappingApproved})
		}
	}
	add("ebs-in-backup-plan", "CP-9", "CP-9(1)", "CP-10")
	add("efs-in-backup-plan", "CP-9", "CP-9(1)", "CP-10")
	add("rds-in-backup-plan", "CP-9", "CP-10")
	add("ebs-encrypted", "SC-28", "SC-28(1)", "SC-13")
	add("efs-encrypted", "SC-28", "SC-28(1)", "SC-13")
	add("quantum-widget", "XX-1")
	return srcs, maps
}

func newRanker(t *testing.T, cfg rank.Config) *rank.Ranker {
	t.Helper()
	cfg.Targets = targets()
	if cfg.Sources == nil {
		cfg.Sources, cfg.Approved = sources()
	}
	r, err := rank.NewDefault(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func srcOf(c pipeline.Control) pipeline.Source { return pipeline.Source{Control: c, Text: c.Text()} }

func ids(cs []pipeline.Candidate) []string {
	out := make([]string, len(cs))
	for i, c := range cs {
		out[i] = c.Target.ID
	}
	return out
}

func TestRetrieve(t *testing.T) {
	r := newRanker(t, rank.Config{})
	if len(r.Targets()) != 8 {
		t.Fatalf("%d targets; the withdrawn one must be skipped", len(r.Targets()))
	}
	q := source("dynamodb-in-backup-plan", "The DynamoDB table is not in an AWS Backup plan.")
	cands, err := r.Retrieve(context.Background(), srcOf(q), nil, 5)
	if err != nil {
		t.Fatal(err)
	}
	if len(cands) != 5 || !slices.Contains(ids(cands[:3]), "CP-9") || !slices.Contains(ids(cands[:3]), "CP-10") {
		t.Fatalf("top 5: %v", ids(cands))
	}
	for i, c := range cands {
		if c.Similarity < 0 || c.Similarity > 1 || (i > 0 && c.Similarity > cands[i-1].Similarity) {
			t.Fatalf("similarities not in 0..1 and descending: %v", cands)
		}
	}
	cp9 := cands[slices.Index(ids(cands), "CP-9")]
	ev := cp9.Evidence
	if len(ev.SupportedBy) != 3 || !strings.HasPrefix(ev.SupportedBy[0], srcFW+"#") {
		t.Fatalf("supported by %v", ev.SupportedBy)
	}
	if !slices.Contains(ev.SharedTerms, "backup") {
		t.Fatalf("shared terms %v", ev.SharedTerms)
	}
	for _, s := range []string{rank.SignalMemory, rank.SignalLexical, rank.SignalNeighbor, rank.SignalPrior} {
		if v, ok := ev.Signals[s]; !ok || v < 0 || v > 1 {
			t.Fatalf("signal %s = %v (%v)", s, v, ev.Signals)
		}
	}
	if ev.Signals[rank.SignalMemory] != 1 {
		t.Fatalf("every backup neighbour maps to CP-9: %v", ev.Signals)
	}

	// Only the targets asked for.
	some, err := r.Retrieve(context.Background(), srcOf(q), []pipeline.Control{targets()[0], targets()[4]}, 10)
	if err != nil || !slices.Equal(ids(some), []string{"SC-13", "AC-2"}) && !slices.Equal(ids(some), []string{"AC-2", "SC-13"}) {
		t.Fatalf("restricted pool: %v %v", ids(some), err)
	}
	if _, err := r.Retrieve(context.Background(), srcOf(q), []pipeline.Control{target("ZZ-1", "", "Unknown", "")}, 10); err == nil {
		t.Fatal("a target outside the index was accepted")
	}
}

// TestOwnMappingsNeverCount: a source that has approved mappings is
// retrieved for as if they did not exist, and Without takes a fold out.
func TestOwnMappingsNeverCount(t *testing.T) {
	r := newRanker(t, rank.Config{})
	srcs, _ := sources()
	widget := srcs[5]
	cands, err := r.Retrieve(context.Background(), srcOf(widget), nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cands {
		if c.Evidence.Signals[rank.SignalMemory] != 0 || len(c.Evidence.SupportedBy) != 0 {
			t.Fatalf("%s has memory evidence from the query's own line: %+v", c.Target.ID, c.Evidence)
		}
	}
	// Its text still matches XX-1 by words.
	if cands[0].Target.ID != "XX-1" {
		t.Fatalf("lexical fallback: %v", ids(cands))
	}

	efs := srcs[1]
	fold := r.Without(srcs[0].Key, srcs[2].Key)
	cands, err = fold.Retrieve(context.Background(), srcOf(efs), nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cands {
		for _, k := range c.Evidence.SupportedBy {
			if k == srcs[0].Key || k == srcs[1].Key || k == srcs[2].Key {
				t.Fatalf("%s supported by held-out %s", c.Target.ID, k)
			}
		}
	}
	// Config.Exclude does the same at build time.
	built := newRanker(t, rank.Config{Exclude: []string{srcs[0].Key, srcs[2].Key}})
	again, _ := built.Retrieve(context.Background(), srcOf(efs), nil, 0)
	if !slices.Equal(ids(again), ids(cands)) {
		t.Fatalf("Exclude %v vs Without %v", ids(again), ids(cands))
	}
}

func TestRerankThresholdAndHierarchy(t *testing.T) {
	r := newRanker(t, rank.Config{})
	if r.Threshold() != rank.DefaultThreshold {
		t.Fatal(r.Threshold())
	}
	q := srcOf(source("s3-in-backup-plan", "The S3 bucket is not in an AWS Backup plan."))
	cands, _ := r.Retrieve(context.Background(), q, nil, 0)
	all, err := r.WithThreshold(-1).Rerank(context.Background(), q, cands)
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != len(cands) {
		t.Fatalf("negative threshold dropped candidates: %d of %d", len(all), len(cands))
	}
	kept, _ := r.Rerank(context.Background(), q, cands)
	if len(kept) == 0 || len(kept) >= len(all) {
		t.Fatalf("default threshold kept %d of %d", len(kept), len(all))
	}
	for i, c := range kept {
		if c.Rerank < rank.DefaultThreshold || c.Rerank > 1 || (i > 0 && c.Rerank > kept[i-1].Rerank) {
			t.Fatalf("kept: %+v", kept)
		}
	}
	if !slices.Contains(ids(kept), "CP-9") || slices.Contains(ids(kept), "AC-2") {
		t.Fatalf("kept %v", ids(kept))
	}
	// CP-9(1) is approved with CP-9 by two of the three backup rules: the
	// base control lends it evidence.
	i := slices.Index(ids(all), "CP-9(1)")
	if h := all[i].Evidence.Signals[rank.SignalHierarchy]; h <= 0 || all[i].Rerank <= all[i].Similarity {
		t.Fatalf("hierarchy %v rerank %v similarity %v", h, all[i].Rerank, all[i].Similarity)
	}
	if none, _ := r.Rerank(context.Background(), q, nil); none != nil {
		t.Fatal("no candidates in, some out")
	}
}

func TestNoApprovedMappingsFallsBackToWords(t *testing.T) {
	r := newRanker(t, rank.Config{Sources: []pipeline.Control{}})
	q := srcOf(source("iam-accounts", "IAM accounts have account managers assigned."))
	cands, err := r.Retrieve(context.Background(), q, nil, 3)
	if err != nil {
		t.Fatal(err)
	}
	if cands[0].Target.ID != "AC-2" || cands[0].Similarity != 1 {
		t.Fatalf("lexical only: %+v", cands[0])
	}
}

// fakeEmbedder embeds a text as a one-hot of the first topic it mentions,
// each topic known by several words (as embeddings know synonyms).
type fakeEmbedder struct{ calls int }

func (*fakeEmbedder) ModelVersion() string { return "fake-1" }

func (f *fakeEmbedder) Embed(_ context.Context, texts []string) ([][]float32, error) {
	f.calls++
	topics := [][]string{{"widget"}, {"cryptographic", "kms"}, {"backup"}, {"account"}}
	out := make([][]float32, len(texts))
	for i, t := range texts {
		v := make([]float32, len(topics)+1)
		v[len(topics)] = 1 // no topic
	topic:
		for j, words := range topics {
			for _, w := range words {
				if strings.Contains(strings.ToLower(t), w) {
					v = make([]float32, len(topics)+1)
					v[j] = 1
					break topic
				}
			}
		}
		out[i] = v
	}
	return out, nil
}

func TestEmbedderHook(t *testing.T) {
	emb := &fakeEmbedder{}
	r := newRanker(t, rank.Config{Sources: []pipeline.Control{}, Embedder: emb})
	// No word in common with any target, but SC-13's topic.
	q := srcOf(source("kms", "KMS keys rotate yearly."))
	cands, err := r.Retrieve(context.Background(), q, nil, 2)
	if err != nil {
		t.Fatal(err)
	}
	if c := cands[0]; (c.Target.ID != "SC-13" && c.Target.ID != "SC-28(1)") || c.Evidence.Signals[rank.SignalCosine] != 1 {
		t.Fatalf("cosine: %+v", cands)
	}
	if _, err := r.Retrieve(context.Background(), q, nil, 2); err != nil || emb.calls != 3 {
		t.Fatalf("targets must be embedded once: %d calls, %v", emb.calls, err)
	}

	// A neural retriever's cosine is kept by a Ranker without an embedder.
	plain := newRanker(t, rank.Config{Sources: []pipeline.Control{}, Threshold: -1})
	neural := []pipeline.Candidate{
		{Target: targets()[7], Similarity: 0.9, Evidence: pipeline.Evidence{Signals: map[string]float64{rank.SignalCosine: 0.9}}},
		{Target: targets()[0], Similarity: 0.1, Evidence: pipeline.Evidence{Signals: map[string]float64{rank.SignalCosine: 0.1}}},
	}
	out, err := plain.Rerank(context.Background(), q, neural)
	if err != nil || len(out) != 2 || out[0].Target.ID != "XX-1" || out[0].Evidence.Signals[rank.SignalCosine] != 0.9 {
		t.Fatalf("neural candidates: %+v %v", out, err)
	}
	if _, ok := out[0].Evidence.Signals[rank.SignalLexical]; !ok {
		t.Fatalf("evidence not filled in: %+v", out[0].Evidence)
	}
}

func TestNewDefaultErrors(t *testing.T) {
	if _, err := rank.NewDefault(rank.Config{}); err == nil {
		t.Fatal("no targets accepted")
	}
	dup := append(targets(), targets()[0])
	if _, err := rank.NewDefault(rank.Config{Targets: dup}); err == nil || !strings.Contains(err.Error(), "twice") {
		t.Fatalf("duplicate: %v", err)
	}
	r := newRanker(t, rank.Config{})
	if _, err := r.Rerank(context.Background(), srcOf(source("x", "x")), []pipeline.Candidate{{Target: target("ZZ-9", "", "", "")}}); err == nil {
		t.Fatal("unknown candidate accepted")
	}
	if math.IsNaN(r.Threshold()) {
		t.Fatal("threshold")
	}
}
