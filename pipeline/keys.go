// Package pipeline is the mapping domain of Nexus: keys and their
// validation, jobs and mappings and their statuses, and (in later stages) the
// mapping pipeline itself.
package pipeline

import (
	"fmt"
	"regexp"
	"sort"
	"strings"
)

// The key patterns of NexusAsyncAPIHandlerLambda, exactly as deployed.
var (
	ControlKeyPattern   = regexp.MustCompile(`^[A-Za-z0-9._-]+#[A-Za-z0-9._-]+#.+$`)
	FrameworkKeyPattern = regexp.MustCompile(`^[A-Za-z0-9._-]+#[A-Za-z0-9._-]+$`)
)

// Examples shown when a key is malformed.
const (
	ExampleControlKey   = "AWS.ControlCatalog#1.0#API_GW_CACHE_ENABLED"
	ExampleFrameworkKey = "NIST-SP-800-53#R5"
)

// KeyError is a malformed key. It names the pattern and an example, since a
// user who typed the key wrong needs to see the right shape.
type KeyError struct {
	Kind    string // "control key", "framework key"
	Value   string
	Pattern string
	Example string
}

func (e *KeyError) Error() string {
	return fmt.Sprintf("invalid %s %q: expected %s (e.g. %s)", e.Kind, e.Value, e.Pattern, e.Example)
}

// ValidateControlKey checks a `{framework}#{version}#{controlId}` key.
func ValidateControlKey(key string) error {
	if !ControlKeyPattern.MatchString(key) {
		return &KeyError{Kind: "control key", Value: key, Pattern: "{framework}#{version}#{controlId}", Example: ExampleControlKey}
	}
	return nil
}

// ValidateFrameworkKey checks a `{name}#{version}` key.
func ValidateFrameworkKey(key string) error {
	if !FrameworkKeyPattern.MatchString(key) {
		return &KeyError{Kind: "framework key", Value: key, Pattern: "{name}#{version}", Example: ExampleFrameworkKey}
	}
	return nil
}

// ControlKey joins a framework key and a control id.
func ControlKey(frameworkKey, controlID string) string { return frameworkKey + "#" + controlID }

// SplitControlKey returns the framework key and control id of a control key.
func SplitControlKey(key string) (frameworkKey, controlID string, err error) {
	if err := ValidateControlKey(key); err != nil {
		return "", "", err
	}
	parts := strings.SplitN(key, "#", 3)
	return parts[0] + "#" + parts[1], parts[2], nil
}

// MappingKey is the normalised key of a pair: the two control keys sorted
// and joined with "|", so A→B and B→A share one key.
func MappingKey(a, b string) string {
	keys := []string{a, b}
	sort.Strings(keys)
	return keys[0] + "|" + keys[1]
}

// MappingARN is the ARN the mapping API records for a mapping key.
func MappingARN(mappingKey string) string { return "arn:aws:nexus:::resource/" + mappingKey }
