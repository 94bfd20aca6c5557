// Package iostreams holds the three standard streams of a command together with
// the facts about them that decide how output looks: whether each is a
// terminal, whether colour is wanted, and whether the user can be prompted.
package iostreams

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"
	"strings"

	"golang.org/x/term"
)

// IOStreams is handed to every command; nothing below commands/ writes to the
// process's streams directly.
type IOStreams struct {
	In     io.Reader
	Out    io.Writer
	ErrOut io.Writer

	stdinTTY  bool
	stdoutTTY bool
	stderrTTY bool
	noColor   bool
	width     int

	// answers reads In for Confirm. One reader for the life of the
	// streams: a reader per question would buffer past its line and
	// swallow the answers to the questions after it.
	answers    *bufio.Reader
	answersSrc io.Reader
}

// System returns the process's streams with their terminal facts detected.
// NO_COLOR (any non-empty value, see no-color.org) turns colour off.
func System() *IOStreams {
	s := &IOStreams{
		In:        os.Stdin,
		Out:       os.Stdout,
		ErrOut:    os.Stderr,
		stdinTTY:  isTerminal(os.Stdin),
		stdoutTTY: isTerminal(os.Stdout),
		stderrTTY: isTerminal(os.Stderr),
		noColor:   os.Getenv("NO_COLOR") != "" || os.Getenv("TERM") == "dumb",
	}
	if s.stdoutTTY {
		if w, _, err := term.GetSize(int(os.Stdout.Fd())); err == nil {
			s.width = w
		}
	}
	return s
}

// Test returns streams backed by buffers, none of them a terminal.
func Test() (*IOStreams, *bytes.Buffer, *bytes.Buffer, *bytes.Buffer) {
	in, out, errOut := &bytes.Buffer{}, &bytes.Buffer{}, &bytes.Buffer{}
	return &IOStreams{In: in, Out: out, ErrOut: errOut, noColor: true}, in, out, errOut
}

func isTerminal(f *os.File) bool { return term.IsTerminal(int(f.Fd())) }

// SetStdinTTY, SetStdoutTTY and SetStderrTTY override detection (tests).
func (s *IOStreams) SetStdinTTY(v bool)  { s.stdinTTY = v }
func (s *IOStreams) SetStdoutTTY(v bool) { s.stdoutTTY = v }
func (s *IOStreams) SetStderrTTY(v bool) { s.stderrTTY = v }

// SetColorEnabled forces colour on or off (the --no-color flag, tests).
func (s *IOStreams) SetColorEnabled(v bool) { s.noColor = !v }

// IsStdoutTTY reports whether results go to a terminal.
func (s *IOStreams) IsStdoutTTY() bool { return s.stdoutTTY }

// IsStderrTTY reports whether progress can be animated.
func (s *IOStreams) IsStderrTTY() bool { return s.stderrTTY }

// ColorEnabled reports whether results may carry ANSI colour.
func (s *IOStreams) ColorEnabled() bool { return s.stdoutTTY && !s.noColor }

// CanPrompt reports whether a question can be asked and answered: both stdin
// and stdout must be terminals, as in gh.
func (s *IOStreams) CanPrompt() bool { return s.stdinTTY && s.stdoutTTY }

// TerminalWidth is the width of the stdout terminal, or 0 when unknown.
func (s *IOStreams) TerminalWidth() int { return s.width }

// Confirm asks a yes/no question on stderr and reads the answer from stdin.
// Anything but y or yes is a no, so a stray Enter never changes anything.
func (s *IOStreams) Confirm(question string) (bool, error) {
	fmt.Fprintf(s.ErrOut, "%s [y/N]: ", question)
	if s.answers == nil || s.answersSrc != s.In {
		s.answers, s.answersSrc = bufio.NewReader(s.In), s.In
	}
	line, err := s.answers.ReadString('\n')
	if err != nil && line == "" {
		if err == io.EOF {
			return false, nil
		}
		return false, err
	}
	switch strings.ToLower(strings.TrimSpace(line)) {
	case "y", "yes":
		return true, nil
	}
	return false, nil
}
