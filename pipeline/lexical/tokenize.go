// Package lexical scores control text by its words: a tokenizer tuned to
// control language (stop words, Porter stems) and a BM25F index over the
// fields of a control (title, statement, guidance), built once per framework
// and queried many times.
package lexical

import (
	"strings"
	"unicode"
)

// stopWords are English function words plus the boilerplate of control
// catalogs and of AWS rule descriptions: words that occur in nearly every
// control or rule (and in NIST's parameter markup, "[Assignment:
// organization-defined …]") and so say nothing about which control a text
// is about.
var stopWords = func() map[string]bool {
	words := strings.Fields(`
a about above across after again against all also am an and any are as at be because been
before being below between both but by can could did do does doing done down during each either
etc e.g eg i.e ie few for from further had has have having he her here hers him his how however
if in into is it its itself just may might more most must no nor not of off on once one only or
other others our ours out over own per same shall she should so some such than that the their
theirs them then there these they this those through thus to too under until up upon us very via
was we were what when where whether which while who whom why will with within without would yet
you your

assignment selection organization organizations organizational defined
ensure ensures ensuring help helps helping use used uses using include includes including
example examples enable enabled enables allow allows allowed specify specified specifies
`)
	m := make(map[string]bool, len(words))
	for _, w := range words {
		m[w] = true
	}
	return m
}()

// IsStopWord reports whether a lower-case word is dropped by Tokenize.
func IsStopWord(w string) bool { return stopWords[w] }

// Tokenize splits text into lower-case Porter stems, dropping stop words,
// single characters and bare numbers. Letters and digits make words;
// everything else (hyphens, slashes, dots) separates them, so rule names
// such as "s3-bucket-ssl-requests-only" tokenize like prose.
func Tokenize(text string) []string {
	var out []string
	eachWord(text, func(w string) {
		out = append(out, Stem(w))
	})
	return out
}

// stemCache memoises Stem for a corpus: control text repeats a few
// thousand words many times over.
type stemCache map[string]string

func (c stemCache) stem(w string) string {
	s, ok := c[w]
	if !ok {
		s = Stem(w)
		c[w] = s
	}
	return s
}

// EachWord calls fn with each word of text that Tokenize keeps, lower
// case, and its stem: for callers that index stems but show words.
func EachWord(text string, fn func(word, stem string)) {
	eachWord(text, func(w string) { fn(w, Stem(w)) })
}

// eachWord calls fn with each lower-case word of text that survives the
// stop list, before stemming.
func eachWord(text string, fn func(w string)) {
	start := -1
	flush := func(end int) {
		if start < 0 {
			return
		}
		w := strings.ToLower(text[start:end])
		start = -1
		if len(w) < 2 || stopWords[w] || isNumber(w) {
			return
		}
		fn(w)
	}
	for i, r := range text {
		if unicode.IsLetter(r) || unicode.IsDigit(r) {
			if start < 0 {
				start = i
			}
			continue
		}
		flush(i)
	}
	flush(len(text))
}

func isNumber(w string) bool {
	for _, r := range w {
		if !unicode.IsDigit(r) {
			return false
		}
	}
	return true
}
