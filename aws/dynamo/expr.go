package dynamo

import (
	"fmt"
	"maps"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// Builder collects expression attribute names and values behind
// placeholders, so that no attribute name ever collides with a reserved
// word and no value is spliced into an expression. Generated placeholders
// are #n0, #n1… and :v0, :v1…; Merge adds a user's own.
type Builder struct {
	names  map[string]string // placeholder → attribute
	byAttr map[string]string // attribute → placeholder
	values map[string]types.AttributeValue
	nv     int
}

// NewBuilder returns an empty Builder.
func NewBuilder() *Builder {
	return &Builder{names: map[string]string{}, byAttr: map[string]string{}, values: map[string]types.AttributeValue{}}
}

// Name returns the placeholder of an attribute name, the same one each time.
func (b *Builder) Name(attr string) string {
	if p, ok := b.byAttr[attr]; ok {
		return p
	}
	p := "#n" + strconv.Itoa(len(b.byAttr))
	for b.names[p] != "" { // a merged user placeholder took it
		p += "_"
	}
	b.byAttr[attr] = p
	b.names[p] = attr
	return p
}

// Value returns a new placeholder for a value.
func (b *Builder) Value(av types.AttributeValue) string {
	p := ":v" + strconv.Itoa(b.nv)
	b.nv++
	for b.values[p] != nil {
		p += "_"
	}
	b.values[p] = av
	return p
}

// Merge adds placeholders written by a user (--names, --values). A
// placeholder already bound to something else is an error.
func (b *Builder) Merge(names map[string]string, values map[string]types.AttributeValue) error {
	for p, attr := range names {
		if !strings.HasPrefix(p, "#") {
			return fmt.Errorf("name placeholder %q must start with # (e.g. #s=status)", p)
		}
		if old, ok := b.names[p]; ok && old != attr {
			return fmt.Errorf("name placeholder %s is bound to both %q and %q", p, old, attr)
		}
		b.names[p] = attr
	}
	for p, v := range values {
		if !strings.HasPrefix(p, ":") {
			return fmt.Errorf("value placeholder %q must start with : (e.g. {\":s\":\"PENDING\"})", p)
		}
		if _, ok := b.values[p]; ok {
			return fmt.Errorf("value placeholder %s is given twice", p)
		}
		b.values[p] = v
	}
	return nil
}

// Names returns the name placeholders, or nil when there are none (DynamoDB
// rejects an empty map).
func (b *Builder) Names() map[string]string {
	if len(b.names) == 0 {
		return nil
	}
	return maps.Clone(b.names)
}

// Values returns the value placeholders, or nil when there are none.
func (b *Builder) Values() map[string]types.AttributeValue {
	if len(b.values) == 0 {
		return nil
	}
	return maps.Clone(b.values)
}

// And joins conditions with AND, parenthesising each when there are several.
// Empty conditions are skipped.
func And(conds ...string) string {
	var parts []string
	for _, c := range conds {
		if c = strings.TrimSpace(c); c != "" {
			parts = append(parts, c)
		}
	}
	if len(parts) == 1 {
		return parts[0]
	}
	for i, p := range parts {
		parts[i] = "(" + p + ")"
	}
	return strings.Join(parts, " AND ")
}

// Op is the operator of a Condition.
type Op string

// The operators of the --where and --sort-key syntax.
const (
	OpEq         Op = "="
	OpNe         Op = "<>"
	OpLt         Op = "<"
	OpLe         Op = "<="
	OpGt         Op = ">"
	OpGe         Op = ">="
	OpBeginsWith Op = "begins_with"
	OpContains   Op = "contains"
	OpBetween    Op = "between"
	OpExists     Op = "attribute_exists"
	OpNotExists  Op = "attribute_not_exists"
)

// ConditionSyntax describes the accepted condition forms, for help and
// errors.
const ConditionSyntax = "ATTR=VALUE, ATTR<>VALUE, ATTR<VALUE, ATTR<=VALUE, ATTR>VALUE, ATTR>=VALUE, " +
	"begins_with(ATTR,PREFIX), contains(ATTR,VALUE), between(ATTR,LOW,HIGH), " +
	"attribute_exists(ATTR) or attribute_not_exists(ATTR)"

// Condition is one parsed comparison: an attribute, an operator and its
// operands as typed (still raw text; they are typed when built, once the
// attribute's type may be known).
type Condition struct {
	Attr string
	Op   Op
	Args []string
}

// ParseCondition reads the friendly condition syntax:
//
//	status=PENDING            status<>FAILED (or !=)     created_at<2024-06-01
//	score>=0.9                begins_with(controlKey,NIST-SP-800-53#R5#)
//	contains(reasoning,IAM)   between(created_at,2024-01-01,2024-02-01)
//	attribute_exists(error_message)   attribute_not_exists(ttl)
//
// Values are typed by ParseValue: quote them ('5') to force a string.
func ParseCondition(s string) (Condition, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return Condition{}, fmt.Errorf("empty condition: expected %s", ConditionSyntax)
	}
	if open := strings.IndexByte(s, '('); open > 0 && strings.HasSuffix(s, ")") && isIdent(s[:open]) {
		return parseFunction(strings.ToLower(strings.TrimSpace(s[:open])), s[open+1:len(s)-1], s)
	}
	i := strings.IndexAny(s, "<>=!")
	if i < 0 {
		return Condition{}, fmt.Errorf("%q has no operator: expected %s", s, ConditionSyntax)
	}
	attr := strings.TrimSpace(s[:i])
	rest := s[i:]
	var op Op
	switch {
	case strings.HasPrefix(rest, "<>"), strings.HasPrefix(rest, "!="):
		op = OpNe
	case strings.HasPrefix(rest, "<="):
		op = OpLe
	case strings.HasPrefix(rest, ">="):
		op = OpGe
	case strings.HasPrefix(rest, "=="):
		op = OpEq
		rest = rest[1:]
	case rest[0] == '=':
		op = OpEq
	case rest[0] == '<':
		op = OpLt
	case rest[0] == '>':
		op = OpGt
	default:
		return Condition{}, fmt.Errorf("%q: unknown operator: expected %s", s, ConditionSyntax)
	}
	if attr == "" {
		return Condition{}, fmt.Errorf("%q has no attribute name before %s: expected %s", s, op, ConditionSyntax)
	}
	value := strings.TrimSpace(rest[len(op):])
	return Condition{Attr: attr, Op: op, Args: []string{value}}, nil
}

func parseFunction(name, inner, whole string) (Condition, error) {
	attr, rest, hasComma := strings.Cut(inner, ",")
	attr = strings.TrimSpace(attr)
	if attr == "" {
		return Condition{}, fmt.Errorf("%q has no attribute name: expected %s", whole, ConditionSyntax)
	}
	switch Op(name) {
	case OpExists, OpNotExists:
		if hasComma {
			return Condition{}, fmt.Errorf("%q: %s takes one attribute name", whole, name)
		}
		return Condition{Attr: attr, Op: Op(name)}, nil
	case OpBeginsWith, OpContains:
		if !hasComma {
			return Condition{}, fmt.Errorf("%q: %s takes an attribute and a value, e.g. %s(controlKey,NIST-SP-800-53#R5#)", whole, name, name)
		}
		return Condition{Attr: attr, Op: Op(name), Args: []string{strings.TrimSpace(rest)}}, nil
	case OpBetween:
		args := splitArgs(rest)
		if !hasComma || len(args) != 2 {
			return Condition{}, fmt.Errorf("%q: between takes an attribute and two values, e.g. between(created_at,2024-01-01,2024-02-01)", whole)
		}
		return Condition{Attr: attr, Op: OpBetween, Args: args}, nil
	}
	return Condition{}, fmt.Errorf("%q: unknown function %s: expected %s", whole, name, ConditionSyntax)
}

// splitArgs splits on commas outside 'single' or "double" quotes, keeping
// the quotes (they force a string when the value is typed).
func splitArgs(s string) []string {
	var out []string
	var quote byte
	start := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case quote != 0:
			if c == quote {
				quote = 0
			}
		case c == '\'' || c == '"':
			quote = c
		case c == ',':
			out = append(out, strings.TrimSpace(s[start:i]))
			start = i + 1
		}
	}
	return append(out, strings.TrimSpace(s[start:]))
}

func isIdent(s string) bool {
	s = strings.TrimSpace(s)
	if s == "" {
		return false
	}
	for _, r := range s {
		if !(r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z') {
			return false
		}
	}
	return true
}

// String writes the condition back in the friendly syntax.
func (c Condition) String() string {
	switch c.Op {
	case OpExists, OpNotExists:
		return fmt.Sprintf("%s(%s)", c.Op, c.Attr)
	case OpBeginsWith, OpContains, OpBetween:
		return fmt.Sprintf("%s(%s,%s)", c.Op, c.Attr, strings.Join(c.Args, ","))
	}
	return c.Attr + string(c.Op) + strings.Join(c.Args, "")
}

// ValidateKey checks that the condition may be used in a key condition:
// = for a partition key; =, <, <=, >, >=, between or begins_with for a sort
// key.
func (c Condition) ValidateKey(sortKey bool) error {
	if !sortKey {
		if c.Op != OpEq {
			return fmt.Errorf("the partition key must be matched with =, e.g. controlKey=%s", "AWS.ControlCatalog#1.0#API_GW_CACHE_ENABLED")
		}
		return nil
	}
	switch c.Op {
	case OpEq, OpLt, OpLe, OpGt, OpGe, OpBetween, OpBeginsWith:
		return nil
	}
	return fmt.Errorf("a sort key condition may use =, <, <=, >, >=, between(…) or begins_with(…), not %s", c.Op)
}

// Expression builds the condition into b and returns its expression text.
// typeOf gives the declared type of key attributes ("" when unknown), so
// that values are typed the way the table stores them.
func (c Condition) Expression(b *Builder, typeOf func(attr string) types.ScalarAttributeType) (string, error) {
	var typ types.ScalarAttributeType
	if typeOf != nil {
		typ = typeOf(c.Attr)
	}
	vals := make([]string, len(c.Args))
	for i, a := range c.Args {
		av, err := ParseValue(a, typ)
		if err != nil {
			return "", fmt.Errorf("%s: %w", c, err)
		}
		vals[i] = b.Value(av)
	}
	n := b.Name(c.Attr)
	switch c.Op {
	case OpEq, OpNe, OpLt, OpLe, OpGt, OpGe:
		return fmt.Sprintf("%s %s %s", n, c.Op, vals[0]), nil
	case OpBeginsWith, OpContains:
		return fmt.Sprintf("%s(%s, %s)", c.Op, n, vals[0]), nil
	case OpBetween:
		return fmt.Sprintf("%s BETWEEN %s AND %s", n, vals[0], vals[1]), nil
	case OpExists, OpNotExists:
		return fmt.Sprintf("%s(%s)", c.Op, n), nil
	}
	return "", fmt.Errorf("unsupported operator %q", c.Op)
}

// Equal builds attr = value into b.
func (b *Builder) Equal(attr string, av types.AttributeValue) string {
	return b.Name(attr) + " = " + b.Value(av)
}

// In builds attr IN (values…) into b; one value becomes attr = value.
func (b *Builder) In(attr string, avs ...types.AttributeValue) string {
	if len(avs) == 1 {
		return b.Equal(attr, avs[0])
	}
	ps := make([]string, len(avs))
	for i, av := range avs {
		ps[i] = b.Value(av)
	}
	return b.Name(attr) + " IN (" + strings.Join(ps, ", ") + ")"
}

// S is a string attribute value.
func S(s string) types.AttributeValue { return &types.AttributeValueMemberS{Value: s} }

// N is a number attribute value.
func N(n string) types.AttributeValue { return &types.AttributeValueMemberN{Value: n} }
