package pipeline

import (
	"errors"
	"strings"
	"testing"
)

func TestControlKeys(t *testing.T) {
	for _, ok := range []string{"AWS.ControlCatalog#1.0#API_GW_CACHE_ENABLED", "NIST-SP-800-53#R5#AC-2(1)", "AWS.EC2#1.0#PR.1"} {
		if err := ValidateControlKey(ok); err != nil {
			t.Errorf("%s: %v", ok, err)
		}
	}
	for _, bad := range []string{"", "NIST-SP-800-53#R5", "a b#1#x", "#1#x", "A#1#"} {
		err := ValidateControlKey(bad)
		var ke *KeyError
		if !errors.As(err, &ke) || !strings.Contains(err.Error(), ExampleControlKey) {
			t.Errorf("%q: %v", bad, err)
		}
	}
}

func TestFrameworkKeys(t *testing.T) {
	if err := ValidateFrameworkKey("NIST-SP-800-53#R5"); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{"NIST", "NIST#R5#AC-1", "NIST #R5"} {
		if err := ValidateFrameworkKey(bad); err == nil || !strings.Contains(err.Error(), "{name}#{version}") {
			t.Errorf("%q: %v", bad, err)
		}
	}
}

func TestSplitAndMappingKey(t *testing.T) {
	fw, id, err := SplitControlKey("NIST-SP-800-53#R5#AC-1")
	if err != nil || fw != "NIST-SP-800-53#R5" || id != "AC-1" {
		t.Fatalf("%s %s %v", fw, id, err)
	}
	a, b := "NIST-SP-800-53#R5#AC-1", "AWS.EC2#1.0#PR.1"
	if MappingKey(a, b) != "AWS.EC2#1.0#PR.1|NIST-SP-800-53#R5#AC-1" || MappingKey(a, b) != MappingKey(b, a) {
		t.Fatal(MappingKey(a, b))
	}
	if MappingARN("k") != "arn:aws:nexus:::resource/k" {
		t.Fatal(MappingARN("k"))
	}
}

func TestStatuses(t *testing.T) {
	if s, err := ParseJobStatus("in_progress"); err != nil || s != JobRunning {
		t.Fatalf("%s %v", s, err)
	}
	if _, err := ParseJobStatus("DONE"); err == nil {
		t.Fatal("DONE accepted")
	}
	if !JobFailed.Terminal() || JobPending.Terminal() {
		t.Fatal("terminal")
	}
	if s, err := ParseMappingStatus("pending_review"); err != nil || s != MappingPendingReview {
		t.Fatalf("%s %v", s, err)
	}
}
