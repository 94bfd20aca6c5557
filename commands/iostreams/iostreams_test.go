package iostreams

import (
	"strings"
	"testing"
	"time"
)

func TestConfirm(t *testing.T) {
	for answer, want := range map[string]bool{"y\n": true, "YES\n": true, "n\n": false, "\n": false, "": false, "yep\n": false} {
		ios, in, _, errOut := Test()
		in.WriteString(answer)
		got, err := ios.Confirm("Move 3 messages?")
		if err != nil || got != want {
			t.Errorf("answer %q: %v, %v", answer, got, err)
		}
		if !strings.Contains(errOut.String(), "Move 3 messages? [y/N]") {
			t.Errorf("prompt went to %q", errOut)
		}
	}
}

// Several questions in one command each get their own line of stdin.
func TestConfirmSeveral(t *testing.T) {
	ios, in, _, _ := Test()
	in.WriteString("y\nn\nyes\n")
	var got []bool
	for range 4 {
		ok, err := ios.Confirm("Go ahead?")
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, ok)
	}
	if got[0] != true || got[1] != false || got[2] != true || got[3] != false {
		t.Errorf("answers = %v, want [true false true false] (the 4th reads EOF: no)", got)
	}
}

func TestTerminalFacts(t *testing.T) {
	ios, _, _, _ := Test()
	if ios.CanPrompt() || ios.IsStdoutTTY() || ios.ColorEnabled() {
		t.Fatal("test streams must not look like a terminal")
	}
	ios.SetStdinTTY(true)
	ios.SetStdoutTTY(true)
	if !ios.CanPrompt() {
		t.Fatal("stdin and stdout terminals can prompt")
	}
	if ios.ColorEnabled() {
		t.Fatal("colour is off in test streams until enabled")
	}
	ios.SetColorEnabled(true)
	if !ios.ColorEnabled() {
		t.Fatal("colour not enabled")
	}
}

func TestProgressOnlyOnTerminal(t *testing.T) {
	ios, _, _, errOut := Test()
	p := ios.StartProgress("moving", 10, "msg")
	p.Add(5)
	p.Stop()
	if errOut.Len() != 0 {
		t.Fatalf("progress off a terminal wrote %q", errOut)
	}
	ios.SetStderrTTY(true)
	p = ios.StartProgress("moving", 10, "msg")
	p.Add(5)
	time.Sleep(150 * time.Millisecond) // past the render throttle
	p.Add(5)
	p.Stop()
	if !strings.Contains(errOut.String(), "moving") {
		t.Fatalf("no progress on a terminal: %q", errOut)
	}
	var nilProgress *Progress
	nilProgress.Add(1) // a nil progress is a valid no-op
}
