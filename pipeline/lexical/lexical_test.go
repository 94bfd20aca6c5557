package lexical

import (
	"math"
	"slices"
	"testing"

	"github.com/nexus-compliance/nexus/pipeline"
)

func TestStem(t *testing.T) {
	// Porter's published examples (the 1980 paper and the reference
	// implementation's vocabulary).
	for word, want := range map[string]string{
		"caresses": "caress", "ponies": "poni", "ties": "ti", "caress": "caress", "cats": "cat",
		"feed": "feed", "agreed": "agre", "plastered": "plaster", "bled": "bled", "motoring": "motor",
		"sing": "sing", "conflated": "conflat", "troubled": "troubl", "sized": "size", "hopping": "hop",
		"tanned": "tan", "falling": "fall", "hissing": "hiss", "fizzed": "fizz", "failing": "fail",
		"filing": "file", "happy": "happi", "sky": "sky", "relational": "relat", "conditional": "condit",
		"rational": "ration", "valenci": "valenc", "digitizer": "digit", "radicalli": "radic",
		"differentli": "differ", "vileli": "vile", "analogousli": "analog", "vietnamization": "vietnam",
		"predication": "predic", "operator": "oper", "feudalism": "feudal", "decisiveness": "decis",
		"hopefulness": "hope", "callousness": "callous", "formaliti": "formal", "sensitiviti": "sensit",
		"sensibiliti": "sensibl", "triplicate": "triplic", "formative": "form", "formalize": "formal",
		"electriciti": "electr", "electrical": "electr", "hopeful": "hope", "goodness": "good",
		"revival": "reviv", "allowance": "allow", "inference": "infer", "airliner": "airlin",
		"gyroscopic": "gyroscop", "adjustable": "adjust", "defensible": "defens", "irritant": "irrit",
		"replacement": "replac", "adjustment": "adjust", "dependent": "depend", "adoption": "adopt",
		"homologou": "homolog", "communism": "commun", "activate": "activ", "angulariti": "angular",
		"homologous": "homolog", "effective": "effect", "bowdlerize": "bowdler", "probate": "probat",
		"rate": "rate", "cease": "ceas", "controll": "control", "roll": "roll",
		"generalizations": "gener", "oscillators": "oscil",
		// Control language: the forms that must meet.
		"encryption": "encrypt", "encrypted": "encrypt", "encrypting": "encrypt",
		"logging": "log", "logs": "log", "monitoring": "monitor", "monitored": "monitor",
		// Left alone: short, or not plain letters.
		"s3": "s3", "is": "is", "ec2": "ec2",
	} {
		if got := Stem(word); got != want {
			t.Errorf("Stem(%q) = %q, want %q", word, got, want)
		}
	}
}

func TestTokenize(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []string
	}{
		{"", nil},
		{"The S3 bucket's encryption is ENABLED.", []string{"s3", "bucket", "encrypt"}},
		{"s3-bucket-ssl-requests-only", []string{"s3", "bucket", "ssl", "request"}},
		{"Review [Assignment: organization-defined frequency] 90 days", []string{"review", "frequenc", "dai"}},
		{"AC-2(1) a. b. 1.", []string{"ac"}},
		{"Ensure logs are retained for at least 365 days", []string{"log", "retain", "least", "dai"}},
	} {
		if got := Tokenize(tc.in); !slices.Equal(got, tc.want) {
			t.Errorf("Tokenize(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
	if !IsStopWord("the") || IsStopWord("encrypt") {
		t.Fatal("stop words")
	}
}

// bm25 is the textbook term score, written out for the hand-computed cases.
func bm25(n, df int, tf, dl, avgdl, k1, b float64) float64 {
	idf := math.Log(1 + (float64(n)-float64(df)+0.5)/(float64(df)+0.5))
	w := tf / (1 - b + b*dl/avgdl)
	return idf * w / (k1 + w)
}

func TestBM25HandComputed(t *testing.T) {
	docs := [][]string{{"audit log"}, {"log review log"}, {"network boundary"}}
	ix := NewIndex(docs, PlainParams())
	avg := 7.0 / 3
	for _, tc := range []struct {
		query string
		want  []float64
	}{
		{"log", []float64{bm25(3, 2, 1, 2, avg, 1.2, 0.75), bm25(3, 2, 2, 3, avg, 1.2, 0.75), 0}},
		// A repeated query word counts 1 + ln(count).
		{"log log", []float64{(1 + math.Ln2) * bm25(3, 2, 1, 2, avg, 1.2, 0.75), (1 + math.Ln2) * bm25(3, 2, 2, 3, avg, 1.2, 0.75), 0}},
		{"audit review", []float64{bm25(3, 1, 1, 2, avg, 1.2, 0.75), bm25(3, 1, 1, 3, avg, 1.2, 0.75), 0}},
		{"network logs", []float64{bm25(3, 2, 1, 2, avg, 1.2, 0.75), bm25(3, 2, 2, 3, avg, 1.2, 0.75), bm25(3, 1, 1, 2, avg, 1.2, 0.75)}},
		{"unknown words only", []float64{0, 0, 0}},
	} {
		got := ix.Scores(ix.Compile(tc.query), nil)
		for i := range got {
			if math.Abs(got[i]-tc.want[i]) > 1e-6 {
				t.Errorf("%q doc %d: got %.6f, want %.6f", tc.query, i, got[i], tc.want[i])
			}
		}
	}
	// Hand value for the first case, so the formula above is checked too:
	// idf = ln 1.6, d0 normalised tf = 1/0.892857 = 1.12, score = idf·1.12/2.32.
	if got := ix.Scores(ix.Compile("log"), nil)[0]; math.Abs(got-0.226899) > 1e-6 {
		t.Errorf("hand value: %.6f", got)
	}
	hits := ix.Search("log", 5)
	if len(hits) != 2 || hits[0].Doc != 1 || hits[1].Doc != 0 {
		t.Fatalf("search: %+v", hits)
	}
	if ix.Compile("zzz").Empty() != true || ix.Len() != 3 {
		t.Fatal("empty query / len")
	}
}

func TestBM25FFieldWeights(t *testing.T) {
	p := ControlParams()
	// The same word in the title of one control and the statement of
	// another: the title match wins, by about the title weight.
	docs := [][]string{
		{"Boundary Protection", "Monitor communications at managed interfaces.", ""},
		{"Audit Events", "Record boundary events at managed interfaces.", ""},
		{"Audit Review", "Review audit records.", "Boundary devices produce records."},
	}
	ix := NewIndex(docs, p)
	s := ix.Scores(ix.Compile("boundary"), nil)
	if !(s[0] > s[1] && s[1] > s[2] && s[2] > 0) {
		t.Fatalf("title > statement > guidance: %v", s)
	}
	shared := ix.SharedTerms(ix.Compile("monitoring the managed boundary"), 0, 0)
	// Rarest first: "monitor" is in one control, "boundary" in all three.
	if !slices.Equal(shared, []string{"monitor", "managed", "boundary"}) {
		t.Fatalf("shared terms: %q", shared)
	}
	if got := ix.SharedTerms(ix.Compile("monitoring the managed boundary"), 0, 1); len(got) != 1 {
		t.Fatalf("max: %q", got)
	}
}

func TestControlFields(t *testing.T) {
	c := pipeline.Control{Key: "NIST-SP-800-53#R5#AC-2(1)", ID: "AC-2(1)", Title: "Automated System Account Management", Parent: "AC-2"}
	docs := ControlFields(c, "Account Management")
	if docs[0] != "Account Management: Automated System Account Management" {
		t.Fatal(docs[0])
	}
}
