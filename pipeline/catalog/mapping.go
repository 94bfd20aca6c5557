package catalog

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/nexus-compliance/nexus/pipeline"
)

// mappingLine is one line of a published mapping in the cdk-nag JSONL
// shape: a source control and the target control ids it maps to. Other
// fields (provenance) are ignored.
type mappingLine struct {
	SourceID    *string  `json:"source_id"`
	Title       string   `json:"title"`
	Description string   `json:"description"`
	Targets     []string `json:"targets"`
}

// ParseMappingJSONL reads a published mapping, one source control a line
// ({"source_id", "title", "description", "targets": [...]}), and returns
// the source controls (keyed sourceFrameworkKey#source_id) and one APPROVED
// mapping per target (to targetFrameworkKey#target). A source id that occurs
// on several lines is one control whose targets are the union, since a
// published table may list a rule once per requirement. Blank lines are
// skipped; any other malformed line is an error naming its line number.
func ParseMappingJSONL(r io.Reader, sourceFrameworkKey, targetFrameworkKey string) ([]pipeline.Control, []pipeline.Mapping, error) {
	for _, k := range []string{sourceFrameworkKey, targetFrameworkKey} {
		if err := pipeline.ValidateFrameworkKey(k); err != nil {
			return nil, nil, err
		}
	}
	var (
		controls []pipeline.Control
		mappings []pipeline.Mapping
		index    = map[string]int{}  // source key → position in controls
		seen     = map[string]bool{} // mapping keys already emitted
	)
	br := bufio.NewReader(r)
	for n := 1; ; n++ {
		raw, err := br.ReadBytes('\n')
		if len(bytes.TrimSpace(raw)) > 0 {
			ctl, targets, perr := parseMappingLine(raw, sourceFrameworkKey, targetFrameworkKey)
			if perr != nil {
				return nil, nil, fmt.Errorf("line %d: %w", n, perr)
			}
			if i, ok := index[ctl.Key]; ok {
				if controls[i].Title == "" {
					controls[i].Title = ctl.Title
				}
				if controls[i].Description == "" {
					controls[i].Description = ctl.Description
				}
			} else {
				index[ctl.Key] = len(controls)
				controls = append(controls, ctl)
			}
			for _, t := range targets {
				mk := pipeline.MappingKey(ctl.Key, t)
				if seen[mk] {
					continue
				}
				seen[mk] = true
				mappings = append(mappings, pipeline.Mapping{
					ControlKey:       ctl.Key,
					MappedControlKey: t,
					MappingKey:       mk,
					ARN:              pipeline.MappingARN(mk),
					Status:           pipeline.MappingApproved,
				})
			}
		}
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, nil, fmt.Errorf("line %d: %w", n, err)
		}
	}
	return controls, mappings, nil
}

func parseMappingLine(raw []byte, sourceFW, targetFW string) (pipeline.Control, []string, error) {
	var l mappingLine
	if err := json.Unmarshal(raw, &l); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) && te.Field != "" {
			return pipeline.Control{}, nil, fmt.Errorf("field %q is a JSON %s, want %s", te.Field, te.Value, te.Type)
		}
		return pipeline.Control{}, nil, fmt.Errorf("not a JSON object: %w", err)
	}
	if l.SourceID == nil || strings.TrimSpace(*l.SourceID) == "" {
		return pipeline.Control{}, nil, errors.New(`no "source_id"`)
	}
	id := strings.TrimSpace(*l.SourceID)
	ctl := pipeline.Control{
		Key:          pipeline.ControlKey(sourceFW, id),
		FrameworkKey: sourceFW,
		ID:           id,
		Title:        clean(l.Title),
		Description:  clean(l.Description),
	}
	if err := pipeline.ValidateControlKey(ctl.Key); err != nil {
		return pipeline.Control{}, nil, err
	}
	targets := make([]string, 0, len(l.Targets))
	for i, t := range l.Targets {
		t = strings.TrimSpace(t)
		if t == "" {
			return pipeline.Control{}, nil, fmt.Errorf("source %q: target %d is empty", id, i+1)
		}
		targets = append(targets, pipeline.ControlKey(targetFW, t))
	}
	return ctl, targets, nil
}
