package runbooks

import (
	"strings"
	"testing"
	"time"
)

func TestBuiltinValid(t *testing.T) {
	all, err := Builtin()
	if err != nil || len(all) == 0 {
		t.Fatalf("Builtin: %v %v", all, err)
	}
	rb, err := Find(all, "stuck-pending")
	if err != nil {
		t.Fatal(err)
	}
	v, err := rb.Params(map[string]string{"threshold": "2h"})
	if err != nil || v["threshold"] != 2*time.Hour || v["max"] != 100 {
		t.Errorf("Params = %v, %v", v, err)
	}
	for _, bad := range []map[string]string{{"threshold": "x"}, {"max": "0"}, {"nope": "1"}} {
		if _, err := rb.Params(bad); err == nil {
			t.Errorf("Params(%v) accepted", bad)
		}
	}
}

func TestParseRejects(t *testing.T) {
	for want, doc := range map[string]string{
		"unknown probe":                                "name: a\ntitle: t\nsteps: [{id: s, kind: check, title: t, probe: nope}]",
		"not an earlier step":                          "name: a\ntitle: t\nsteps: [{id: s, kind: act, title: t, action: requeue-job, with: {jobs: later}}]",
		"undefined parameter":                          "name: a\ntitle: t\nsteps: [{id: s, kind: check, title: t, probe: stuck-jobs, with: {older_than: '${x}'}}]",
		"unknown field":                                "name: a\ntitle: t\ncolour: red\nsteps: [{id: s, kind: note, title: t, message: m}]",
		"is not one of int":                            "name: a\ntitle: t\nparameters: [{name: p, type: float, default: 1}]\nsteps: [{id: s, kind: note, title: t, message: m}]",
		"a decide step needs when":                     "name: a\ntitle: t\nsteps: [{id: s, kind: decide, title: t}]",
		"unless.step \"later\" is not an earlier step": "name: a\ntitle: t\nsteps: [{id: s, kind: note, title: t, message: m, unless: {step: later, op: gt, value: 0}}]",
		"unless.op \"over\"":                           "name: a\ntitle: t\nsteps: [{id: c, kind: check, title: t, probe: stuck-jobs}, {id: s, kind: note, title: t, message: m, unless: {step: c, op: over, value: 0}}]",
		"advisory applies to check steps only":         "name: a\ntitle: t\nsteps: [{id: s, kind: note, title: t, message: m, advisory: true}]",
	} {
		if _, err := Parse([]byte(doc), "f.yaml"); err == nil || !strings.Contains(err.Error(), want) || !strings.HasPrefix(err.Error(), "f.yaml") {
			t.Errorf("%q: err = %v", want, err)
		}
	}
}
