package wordpiece_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/nexus-compliance/nexus/pipeline/onnx/onnxtest"
	"github.com/nexus-compliance/nexus/pipeline/onnx/tinymodel"
	"github.com/nexus-compliance/nexus/pipeline/onnx/wordpiece"
)

func miniLM(t *testing.T) *wordpiece.Tokenizer {
	t.Helper()
	tok, err := wordpiece.Load(onnxtest.MiniLMTokenizer(t))
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// TestMiniLMIDs checks ids against values published outside this project:
// the Hugging Face documentation's examples for the bert-base-uncased
// vocabulary (which all-MiniLM-L6-v2 shares) and the test expectations of
// github.com/daulet/tokenizers for this very file.
func TestMiniLMIDs(t *testing.T) {
	tok := miniLM(t)
	if tok.VocabSize() != 30522 || tok.MaxLength() != 256 {
		t.Fatalf("vocab %d, max length %d", tok.VocabSize(), tok.MaxLength())
	}
	tests := []struct {
		text   string
		ids    []int64
		tokens []string
	}{
		{"this short sentence", []int64{101, 2023, 2460, 6251, 102}, nil},
		{"brown fox jumps over the lazy dog", []int64{101, 2829, 4419, 14523, 2058, 1996, 13971, 3899, 102}, nil},
		{"Hello, my dog is cute", []int64{101, 7592, 1010, 2026, 3899, 2003, 10140, 102}, nil},
		{"I have a new GPU!", []int64{101, 1045, 2031, 1037, 2047, 14246, 2226, 999, 102},
			[]string{"[CLS]", "i", "have", "a", "new", "gp", "##u", "!", "[SEP]"}},
		// Lowercased and accent-stripped (NFD, then the combining marks go).
		{"Café", []int64{101, 7668, 102}, []string{"[CLS]", "cafe", "[SEP]"}},
		{"CAFÉ", []int64{101, 7668, 102}, nil},
		{"naïve résumé", []int64{101, 15743, 13746, 102}, []string{"[CLS]", "naive", "resume", "[SEP]"}},
		// CJK characters stand alone; a symbol outside the vocabulary is
		// [UNK]; control characters vanish; tabs and NBSP are spaces.
		{"中文", []int64{101, 1746, 1861, 102}, nil},
		{"☃", []int64{101, 100, 102}, nil},
		{"access\u0000\tcontrol\u00a0-\u200bmfa", []int64{101, 3229, 2491, 1011, 26913, 102}, nil},
		// Special tokens written in the text are kept whole.
		{"dog [MASK] cute", []int64{101, 3899, 103, 10140, 102}, nil},
		{"", []int64{101, 102}, nil},
	}
	for _, tt := range tests {
		e := tok.Encode(tt.text)
		if !slices.Equal(e.IDs, tt.ids) {
			t.Errorf("Encode(%q) = %v %q; want %v", tt.text, e.IDs, e.Tokens, tt.ids)
		}
		if tt.tokens != nil && !slices.Equal(e.Tokens, tt.tokens) {
			t.Errorf("Encode(%q) tokens %q; want %q", tt.text, e.Tokens, tt.tokens)
		}
		if len(e.TypeIDs) != len(e.IDs) || slices.Max(append(e.TypeIDs, 0)) != 0 {
			t.Errorf("Encode(%q) type ids %v", tt.text, e.TypeIDs)
		}
	}
}

func TestPairTruncationAndPadding(t *testing.T) {
	tok := miniLM(t)
	e := tok.EncodePair("my dog", "is cute")
	if !slices.Equal(e.IDs, []int64{101, 2026, 3899, 102, 2003, 10140, 102}) ||
		!slices.Equal(e.TypeIDs, []int64{0, 0, 0, 0, 1, 1, 1}) {
		t.Fatalf("pair: %v %v", e.IDs, e.TypeIDs)
	}

	long := strings.Repeat("dog ", 400)
	e = tok.Encode(long)
	if len(e.IDs) != 256 || e.IDs[0] != 101 || e.IDs[255] != 102 || e.IDs[254] != 3899 {
		t.Fatalf("truncated single: %d ids, ends %v", len(e.IDs), e.IDs[250:])
	}
	// LongestFirst: the long side gives way until the pair fits.
	e = tok.EncodePair("is cute", long)
	if len(e.IDs) != 256 || !slices.Equal(e.IDs[:4], []int64{101, 2003, 10140, 102}) || e.TypeIDs[255] != 1 {
		t.Fatalf("truncated pair: %d ids, starts %v", len(e.IDs), e.IDs[:5])
	}
	tok.SetMaxLength(8)
	if e := tok.EncodePair(long, long); len(e.IDs) != 8 || !slices.Equal(e.TypeIDs, []int64{0, 0, 0, 0, 0, 1, 1, 1}) {
		t.Fatalf("even pair: %v %v", e.IDs, e.TypeIDs)
	}

	// Padding to the longest, rounded up to pad_to_multiple_of (8 here).
	b := tok.Pad([]wordpiece.Encoding{tok.Encode("dog"), tok.Encode("this short sentence")})
	if b.Rows != 2 || b.Len != 8 {
		t.Fatalf("batch %d×%d", b.Rows, b.Len)
	}
	if !slices.Equal(b.IDs[:8], []int64{101, 3899, 102, 0, 0, 0, 0, 0}) || !slices.Equal(b.Mask[:8], []int64{1, 1, 1, 0, 0, 0, 0, 0}) ||
		!slices.Equal(b.Mask[8:], []int64{1, 1, 1, 1, 1, 0, 0, 0}) {
		t.Fatalf("padded: %v %v", b.IDs, b.Mask)
	}
}

func TestTinyTokenizer(t *testing.T) {
	tok, err := wordpiece.Parse(tinymodel.Tokenizer())
	if err != nil {
		t.Fatal(err)
	}
	// Every ASCII word tokenizes through single-letter pieces.
	got := tok.Tokenize("Encrypt the S3 bucket: AWS.ControlCatalog#1.0")
	want := []string{"encrypt", "the", "s", "##3", "b", "##u", "##c", "##k", "##e", "##t", ":",
		"a", "##w", "##s", ".", "control", "##c", "##a", "##t", "##a", "##l", "##o", "##g", "#", "1", ".", "0"}
	if !slices.Equal(got, want) {
		t.Fatalf("got %q", got)
	}
	if e := tok.Encode("access"); len(e.IDs) != 3 || e.Tokens[0] != "[CLS]" || e.Tokens[2] != "[SEP]" {
		t.Fatalf("tiny encode: %+v", e)
	}
}

func TestParseRefusesOtherTokenizers(t *testing.T) {
	for name, doc := range map[string]string{
		"bpe":        `{"model":{"type":"BPE","vocab":{"a":0}}}`,
		"normalizer": `{"normalizer":{"type":"NFKC"},"model":{"type":"WordPiece","unk_token":"[UNK]","vocab":{"[UNK]":0}}}`,
		"pre":        `{"pre_tokenizer":{"type":"Metaspace"},"model":{"type":"WordPiece","unk_token":"[UNK]","vocab":{"[UNK]":0}}}`,
		"post":       `{"post_processor":{"type":"RobertaProcessing"},"model":{"type":"WordPiece","unk_token":"[UNK]","vocab":{"[UNK]":0}}}`,
		"unk":        `{"model":{"type":"WordPiece","unk_token":"[UNK]","vocab":{"a":0}}}`,
		"json":       `{`,
	} {
		if _, err := wordpiece.Parse([]byte(doc)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	// BertProcessing (older files) works like the template.
	tok, err := wordpiece.Parse([]byte(`{"post_processor":{"type":"BertProcessing","sep":["[SEP]",3],"cls":["[CLS]",2]},
		"normalizer":{"type":"BertNormalizer","lowercase":true},
		"model":{"type":"WordPiece","unk_token":"[UNK]","vocab":{"[PAD]":0,"[UNK]":1,"[CLS]":2,"[SEP]":3,"hi":4,"##s":5}}}`))
	if err != nil {
		t.Fatal(err)
	}
	if e := tok.EncodePair("His", "x"); !slices.Equal(e.IDs, []int64{2, 4, 5, 3, 1, 3}) || !slices.Equal(e.TypeIDs, []int64{0, 0, 0, 0, 1, 1}) {
		t.Fatalf("BertProcessing pair: %v %v", e.IDs, e.TypeIDs)
	}
}
