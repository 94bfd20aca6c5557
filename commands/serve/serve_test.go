package serve

import (
	"errors"
	"testing"

	"github.com/nexus-compliance/nexus/commands/cmdutil"
)

func TestValidateRefusesNonLoopbackWithoutToken(t *testing.T) {
	o := &Options{Addr: "0.0.0.0:8080", Workers: 2, QueueSize: 10, RetrieveBody: 1, Device: "auto", Reasoning: "template"}
	var fe *cmdutil.FlagError
	if err := o.Validate(); !errors.As(err, &fe) {
		t.Fatalf("non-loopback without token: %v", err)
	}
	o.Token = "t"
	if err := o.Validate(); err != nil {
		t.Fatalf("with token: %v", err)
	}
	o.Addr, o.Token = "127.0.0.1:8080", ""
	if err := o.Validate(); err != nil {
		t.Fatalf("loopback: %v", err)
	}
	o.Workers = 0
	if err := o.Validate(); !errors.As(err, &fe) {
		t.Fatalf("--workers 0: %v", err)
	}
}
