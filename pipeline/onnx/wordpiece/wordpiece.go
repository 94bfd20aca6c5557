// Package wordpiece is a BERT WordPiece tokenizer read from a Hugging Face
// tokenizer.json: the BertNormalizer (clean text, space around CJK
// characters, NFD and accent stripping, lowercasing), the BertPreTokenizer
// (split on whitespace and punctuation), the WordPiece model (greedy longest
// match with "##" continuations), the TemplateProcessing or BertProcessing
// post-processor ([CLS] A [SEP] B [SEP] with type ids), truncation
// (LongestFirst) and padding (BatchLongest) as the file configures them.
//
// It is written here rather than taken from a general tokenizer library
// because nexus needs exactly this one tokenizer family (MiniLM, BERT and
// the ms-marco cross-encoders all use it), pure Go (no Rust library to link),
// and the same ids as the Python tokenizers: general Go ports are known to
// skip the NFD + strip-accents step that BERT uncased vocabularies need, so
// "Café" would not become "cafe". Lowercasing is Go's Unicode case mapping,
// which differs from Python's only where the mapping depends on context
// (a word-final Greek capital sigma).
package wordpiece

import (
	"encoding/json"
	"fmt"
	"os"
	"sort"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// DefaultMaxLength bounds an encoding when tokenizer.json sets no
// truncation: the position limit of BERT-family models.
const DefaultMaxLength = 512

// Tokenizer turns text into the ids a BERT-family model reads.
type Tokenizer struct {
	vocab          map[string]int64
	unkID          int64
	unkToken       string
	prefix         string
	maxWordChars   int
	cleanText      bool
	chineseChars   bool
	stripAccents   bool
	lowercase      bool
	added          []addedToken // longest first
	single, pair   []templateItem
	maxLength      int
	padID          int64
	padTypeID      int64
	padMultiple    int
	padLeft        bool
	truncateLeft   bool
	specialsSingle int
	specialsPair   int
}

type addedToken struct {
	content string
	id      int64
}

// templateItem is one piece of a post-processing template: a special
// token's ids, or sequence A or B.
type templateItem struct {
	seq    string // "A" or "B"; empty for a special token
	ids    []int64
	tokens []string
	typeID int64
}

// Encoding is one text (or pair of texts) as model input.
type Encoding struct {
	IDs     []int64
	TypeIDs []int64
	Tokens  []string
}

// file is the part of tokenizer.json this package reads.
type file struct {
	Truncation *struct {
		Direction string `json:"direction"`
		MaxLength int    `json:"max_length"`
		Strategy  string `json:"strategy"`
	} `json:"truncation"`
	Padding *struct {
		Direction        string `json:"direction"`
		PadToMultipleOf  *int   `json:"pad_to_multiple_of"`
		PadID            int64  `json:"pad_id"`
		PadTypeID        int64  `json:"pad_type_id"`
		PadToken         string `json:"pad_token"`
		Strategy         any    `json:"strategy"`
		PaddingDirection string `json:"padding_direction"`
	} `json:"padding"`
	AddedTokens []struct {
		ID         int64  `json:"id"`
		Content    string `json:"content"`
		Normalized bool   `json:"normalized"`
		Special    bool   `json:"special"`
	} `json:"added_tokens"`
	Normalizer *struct {
		Type               string `json:"type"`
		CleanText          *bool  `json:"clean_text"`
		HandleChineseChars *bool  `json:"handle_chinese_chars"`
		StripAccents       *bool  `json:"strip_accents"`
		Lowercase          *bool  `json:"lowercase"`
	} `json:"normalizer"`
	PreTokenizer *struct {
		Type string `json:"type"`
	} `json:"pre_tokenizer"`
	PostProcessor *struct {
		Type          string                     `json:"type"`
		Single        []map[string]templateEntry `json:"single"`
		Pair          []map[string]templateEntry `json:"pair"`
		SpecialTokens map[string]struct {
			IDs    []int64  `json:"ids"`
			Tokens []string `json:"tokens"`
		} `json:"special_tokens"`
		Sep []any `json:"sep"`
		Cls []any `json:"cls"`
	} `json:"post_processor"`
	Model struct {
		Type                    string           `json:"type"`
		UnkToken                string           `json:"unk_token"`
		ContinuingSubwordPrefix *string          `json:"continuing_subword_prefix"`
		MaxInputCharsPerWord    int              `json:"max_input_chars_per_word"`
		Vocab                   map[string]int64 `json:"vocab"`
	} `json:"model"`
}

type templateEntry struct {
	ID     string `json:"id"`
	TypeID int64  `json:"type_id"`
}

// Load reads a tokenizer.json file.
func Load(path string) (*Tokenizer, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	t, err := Parse(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return t, nil
}

// Parse reads the contents of a tokenizer.json. Anything other than a BERT
// WordPiece tokenizer is refused with the component it cannot handle.
func Parse(data []byte) (*Tokenizer, error) {
	var f file
	if err := json.Unmarshal(data, &f); err != nil {
		return nil, fmt.Errorf("not a tokenizer.json: %w", err)
	}
	if f.Model.Type != "WordPiece" {
		return nil, fmt.Errorf("model type %q is not supported: nexus reads BERT WordPiece tokenizers", f.Model.Type)
	}
	if len(f.Model.Vocab) == 0 {
		return nil, fmt.Errorf("the WordPiece model has an empty vocabulary")
	}
	t := &Tokenizer{
		vocab: f.Model.Vocab, unkToken: f.Model.UnkToken, prefix: "##",
		maxWordChars: f.Model.MaxInputCharsPerWord, maxLength: DefaultMaxLength,
	}
	if f.Model.ContinuingSubwordPrefix != nil {
		t.prefix = *f.Model.ContinuingSubwordPrefix
	}
	if t.maxWordChars <= 0 {
		t.maxWordChars = 100
	}
	id, ok := t.vocab[t.unkToken]
	if !ok {
		return nil, fmt.Errorf("the unknown token %q is not in the vocabulary", t.unkToken)
	}
	t.unkID = id

	switch n := f.Normalizer; {
	case n == nil:
	case n.Type == "BertNormalizer":
		t.cleanText = boolOr(n.CleanText, true)
		t.chineseChars = boolOr(n.HandleChineseChars, true)
		t.lowercase = boolOr(n.Lowercase, true)
		// strip_accents: null means "as lowercase", as in the Python library.
		t.stripAccents = boolOr(n.StripAccents, t.lowercase)
	default:
		return nil, fmt.Errorf("normalizer %q is not supported: nexus reads BertNormalizer", n.Type)
	}
	if p := f.PreTokenizer; p != nil && p.Type != "BertPreTokenizer" {
		return nil, fmt.Errorf("pre-tokenizer %q is not supported: nexus reads BertPreTokenizer", p.Type)
	}
	for _, a := range f.AddedTokens {
		if !a.Normalized && a.Content != "" {
			t.added = append(t.added, addedToken{content: a.Content, id: a.ID})
		}
	}
	sort.SliceStable(t.added, func(i, j int) bool { return len(t.added[i].content) > len(t.added[j].content) })

	if err := t.parsePostProcessor(&f); err != nil {
		return nil, err
	}
	if tr := f.Truncation; tr != nil {
		if tr.MaxLength > 0 {
			t.maxLength = tr.MaxLength
		}
		t.truncateLeft = tr.Direction == "Left"
	}
	if p := f.Padding; p != nil {
		t.padID, t.padTypeID = p.PadID, p.PadTypeID
		t.padLeft = p.Direction == "Left"
		if p.PadToMultipleOf != nil {
			t.padMultiple = *p.PadToMultipleOf
		}
	} else if id, ok := t.vocab["[PAD]"]; ok {
		t.padID = id
	}
	return t, nil
}

func (t *Tokenizer) parsePostProcessor(f *file) error {
	p := f.PostProcessor
	special := func(name string) (templateItem, error) {
		id, ok := t.vocab[name]
		if !ok {
			return templateItem{}, fmt.Errorf("special token %q is not in the vocabulary", name)
		}
		return templateItem{ids: []int64{id}, tokens: []string{name}}, nil
	}
	switch {
	case p == nil:
		return nil
	case p.Type == "TemplateProcessing":
		conv := func(entries []map[string]templateEntry) ([]templateItem, error) {
			var items []templateItem
			for _, e := range entries {
				if s, ok := e["Sequence"]; ok {
					items = append(items, templateItem{seq: s.ID, typeID: s.TypeID})
					continue
				}
				s, ok := e["SpecialToken"]
				if !ok {
					return nil, fmt.Errorf("template entry %v is neither Sequence nor SpecialToken", e)
				}
				tok, ok := p.SpecialTokens[s.ID]
				if !ok {
					return nil, fmt.Errorf("template names special token %q that it does not define", s.ID)
				}
				items = append(items, templateItem{ids: tok.IDs, tokens: tok.Tokens, typeID: s.TypeID})
			}
			return items, nil
		}
		var err error
		if t.single, err = conv(p.Single); err != nil {
			return err
		}
		if t.pair, err = conv(p.Pair); err != nil {
			return err
		}
	case p.Type == "BertProcessing":
		name := func(v []any) string {
			if len(v) > 0 {
				s, _ := v[0].(string)
				return s
			}
			return ""
		}
		cls, err := special(name(p.Cls))
		if err != nil {
			return err
		}
		sep, err := special(name(p.Sep))
		if err != nil {
			return err
		}
		sep1 := sep
		sep1.typeID = 1
		t.single = []templateItem{cls, {seq: "A"}, sep}
		t.pair = []templateItem{cls, {seq: "A"}, sep, {seq: "B", typeID: 1}, sep1}
	default:
		return fmt.Errorf("post-processor %q is not supported: nexus reads TemplateProcessing and BertProcessing", p.Type)
	}
	for _, it := range t.single {
		t.specialsSingle += len(it.ids)
	}
	for _, it := range t.pair {
		t.specialsPair += len(it.ids)
	}
	return nil
}

func boolOr(b *bool, def bool) bool {
	if b == nil {
		return def
	}
	return *b
}

// MaxLength is the longest encoding, special tokens included.
func (t *Tokenizer) MaxLength() int { return t.maxLength }

// SetMaxLength changes MaxLength (a model may take fewer positions than the
// tokenizer file says). n <= 0 is ignored.
func (t *Tokenizer) SetMaxLength(n int) {
	if n > 0 {
		t.maxLength = n
	}
}

// VocabSize is the number of entries of the vocabulary.
func (t *Tokenizer) VocabSize() int { return len(t.vocab) }

// ID returns the id of a token of the vocabulary.
func (t *Tokenizer) ID(token string) (int64, bool) {
	id, ok := t.vocab[token]
	return id, ok
}

// Tokenize returns the word pieces of text, without special tokens or
// truncation.
func (t *Tokenizer) Tokenize(text string) []string {
	_, toks := t.pieces(text)
	return toks
}

// Encode tokenizes one text with the single-sequence template, truncated to
// MaxLength.
func (t *Tokenizer) Encode(text string) Encoding {
	ids, toks := t.pieces(text)
	budget := t.maxLength - t.specialsSingle
	ids, toks = t.truncate(ids, toks, budget)
	if t.single == nil {
		return Encoding{IDs: ids, Tokens: toks, TypeIDs: make([]int64, len(ids))}
	}
	return t.apply(t.single, ids, toks, nil, nil)
}

// EncodePair tokenizes a pair (query and passage for a cross-encoder) with
// the pair template, truncating the longer side first.
func (t *Tokenizer) EncodePair(a, b string) Encoding {
	ia, ta := t.pieces(a)
	ib, tb := t.pieces(b)
	budget := t.maxLength - t.specialsPair
	for len(ia)+len(ib) > max(budget, 0) {
		if len(ia) > len(ib) {
			ia, ta = t.truncate(ia, ta, len(ia)-1)
		} else {
			ib, tb = t.truncate(ib, tb, len(ib)-1)
		}
	}
	if t.pair == nil {
		ids := append(append([]int64(nil), ia...), ib...)
		typ := make([]int64, len(ids))
		for i := len(ia); i < len(ids); i++ {
			typ[i] = 1
		}
		return Encoding{IDs: ids, TypeIDs: typ, Tokens: append(append([]string(nil), ta...), tb...)}
	}
	return t.apply(t.pair, ia, ta, ib, tb)
}

func (t *Tokenizer) truncate(ids []int64, toks []string, n int) ([]int64, []string) {
	n = max(n, 0)
	if len(ids) <= n {
		return ids, toks
	}
	if t.truncateLeft {
		return ids[len(ids)-n:], toks[len(toks)-n:]
	}
	return ids[:n], toks[:n]
}

func (t *Tokenizer) apply(tpl []templateItem, ia []int64, ta []string, ib []int64, tb []string) Encoding {
	var e Encoding
	for _, it := range tpl {
		ids, toks := it.ids, it.tokens
		switch it.seq {
		case "A":
			ids, toks = ia, ta
		case "B":
			ids, toks = ib, tb
		}
		e.IDs = append(e.IDs, ids...)
		e.Tokens = append(e.Tokens, toks...)
		for range ids {
			e.TypeIDs = append(e.TypeIDs, it.typeID)
		}
	}
	return e
}

// pieces runs everything but the post-processor: added tokens are found in
// the raw text, the rest is normalized, split and looked up.
func (t *Tokenizer) pieces(text string) ([]int64, []string) {
	var ids []int64
	var toks []string
	for len(text) > 0 {
		at, tok := t.nextAdded(text)
		for _, w := range t.words(text[:at]) {
			ids, toks = t.wordPiece(w, ids, toks)
		}
		if tok == nil {
			break
		}
		ids, toks = append(ids, tok.id), append(toks, tok.content)
		text = text[at+len(tok.content):]
	}
	return ids, toks
}

// nextAdded finds the first added token in text (the longest at that
// place); without one it returns len(text), nil.
func (t *Tokenizer) nextAdded(text string) (int, *addedToken) {
	best, bestAt := -1, len(text)
	for i := range t.added {
		if at := strings.Index(text, t.added[i].content); at >= 0 && at < bestAt {
			best, bestAt = i, at
		}
	}
	if best < 0 {
		return len(text), nil
	}
	return bestAt, &t.added[best]
}

// words normalizes text and splits it into words and punctuation marks.
func (t *Tokenizer) words(text string) []string {
	text = t.normalize(text)
	var words []string
	start := -1
	for i, r := range text {
		switch {
		case isWhitespace(r):
			if start >= 0 {
				words = append(words, text[start:i])
				start = -1
			}
		case isPunct(r):
			if start >= 0 {
				words = append(words, text[start:i])
				start = -1
			}
			words = append(words, text[i:i+utf8.RuneLen(r)])
		default:
			if start < 0 {
				start = i
			}
		}
	}
	if start >= 0 {
		words = append(words, text[start:])
	}
	return words
}

// normalize is the BertNormalizer, in its order: clean, CJK, accents,
// lowercase.
func (t *Tokenizer) normalize(text string) string {
	if t.cleanText || t.chineseChars {
		var b strings.Builder
		for _, r := range text {
			switch {
			case t.cleanText && (r == 0 || r == utf8.RuneError || isControl(r)):
			case t.cleanText && isWhitespace(r):
				b.WriteByte(' ')
			case t.chineseChars && isChinese(r):
				b.WriteByte(' ')
				b.WriteRune(r)
				b.WriteByte(' ')
			default:
				b.WriteRune(r)
			}
		}
		text = b.String()
	}
	if t.stripAccents {
		text = strings.Map(func(r rune) rune {
			if unicode.Is(unicode.Mn, r) {
				return -1
			}
			return r
		}, norm.NFD.String(text))
	}
	if t.lowercase {
		text = strings.ToLower(text)
	}
	return text
}

// wordPiece appends the pieces of one word: the longest vocabulary prefix,
// then the longest "##" continuation, and so on; a word that cannot be
// covered, or is too long, is the unknown token.
func (t *Tokenizer) wordPiece(word string, ids []int64, toks []string) ([]int64, []string) {
	if utf8.RuneCountInString(word) > t.maxWordChars {
		return append(ids, t.unkID), append(toks, t.unkToken)
	}
	n0 := len(ids)
	for start := 0; start < len(word); {
		end := len(word)
		found := false
		for end > start {
			piece := word[start:end]
			if start > 0 {
				piece = t.prefix + piece
			}
			if id, ok := t.vocab[piece]; ok {
				ids, toks = append(ids, id), append(toks, piece)
				found = true
				break
			}
			_, size := utf8.DecodeLastRuneInString(word[start:end])
			end -= size
		}
		if !found {
			return append(ids[:n0], t.unkID), append(toks[:n0], t.unkToken)
		}
		start = end
	}
	return ids, toks
}

// isWhitespace is Unicode White_Space, which Go's unicode.IsSpace matches.
func isWhitespace(r rune) bool { return unicode.IsSpace(r) }

// isControl is the "other" general category (Cc, Cf, Co, Cs and unassigned)
// less the whitespace controls.
func isControl(r rune) bool {
	if r == '\t' || r == '\n' || r == '\r' {
		return false
	}
	if unicode.In(r, unicode.Cc, unicode.Cf, unicode.Co, unicode.Cs) {
		return true
	}
	return !unicode.In(r, unicode.L, unicode.M, unicode.N, unicode.P, unicode.S, unicode.Z)
}

// isPunct is Unicode punctuation plus every ASCII symbol ($, +, <, =, >, ^,
// `, |, ~), as BERT treats them.
func isPunct(r rune) bool {
	if r < utf8.RuneSelf {
		return (r >= '!' && r <= '/') || (r >= ':' && r <= '@') || (r >= '[' && r <= '`') || (r >= '{' && r <= '~')
	}
	return unicode.IsPunct(r)
}

// isChinese is the CJK Unified Ideographs blocks BERT splits into single
// characters.
func isChinese(r rune) bool {
	return (r >= 0x4E00 && r <= 0x9FFF) || (r >= 0x3400 && r <= 0x4DBF) || (r >= 0x20000 && r <= 0x2A6DF) ||
		(r >= 0x2A700 && r <= 0x2B73F) || (r >= 0x2B740 && r <= 0x2B81F) || (r >= 0x2B920 && r <= 0x2CEAF) ||
		(r >= 0xF900 && r <= 0xFAFF) || (r >= 0x2F800 && r <= 0x2FA1F)
}
