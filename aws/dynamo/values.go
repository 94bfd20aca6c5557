package dynamo

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// ToJSON converts an attribute value to plain Go values that encoding/json
// (and YAML through it) writes naturally: strings, json.Number (numbers keep
// every digit DynamoDB stored), bools, nil, []any and map[string]any. Binary
// values become []byte (base64 in JSON); sets become arrays.
func ToJSON(av types.AttributeValue) any {
	switch v := av.(type) {
	case *types.AttributeValueMemberS:
		return v.Value
	case *types.AttributeValueMemberN:
		return json.Number(v.Value)
	case *types.AttributeValueMemberBOOL:
		return v.Value
	case *types.AttributeValueMemberNULL:
		return nil
	case *types.AttributeValueMemberB:
		return v.Value
	case *types.AttributeValueMemberL:
		out := make([]any, len(v.Value))
		for i, e := range v.Value {
			out[i] = ToJSON(e)
		}
		return out
	case *types.AttributeValueMemberM:
		return ItemJSON(v.Value)
	case *types.AttributeValueMemberSS:
		return append([]string{}, v.Value...)
	case *types.AttributeValueMemberNS:
		out := make([]json.Number, len(v.Value))
		for i, n := range v.Value {
			out[i] = json.Number(n)
		}
		return out
	case *types.AttributeValueMemberBS:
		return append([][]byte{}, v.Value...)
	}
	return nil
}

// ItemJSON converts an item with ToJSON.
func ItemJSON(item Item) map[string]any {
	out := make(map[string]any, len(item))
	for k, v := range item {
		out[k] = ToJSON(v)
	}
	return out
}

// ToTyped converts an attribute value to DynamoDB JSON, the wire form the
// AWS CLI prints: {"S":"x"}, {"N":"1.5"}, {"M":{…}}.
func ToTyped(av types.AttributeValue) any {
	switch v := av.(type) {
	case *types.AttributeValueMemberS:
		return map[string]any{"S": v.Value}
	case *types.AttributeValueMemberN:
		return map[string]any{"N": v.Value}
	case *types.AttributeValueMemberBOOL:
		return map[string]any{"BOOL": v.Value}
	case *types.AttributeValueMemberNULL:
		return map[string]any{"NULL": true}
	case *types.AttributeValueMemberB:
		return map[string]any{"B": base64.StdEncoding.EncodeToString(v.Value)}
	case *types.AttributeValueMemberL:
		out := make([]any, len(v.Value))
		for i, e := range v.Value {
			out[i] = ToTyped(e)
		}
		return map[string]any{"L": out}
	case *types.AttributeValueMemberM:
		return map[string]any{"M": ItemTyped(v.Value)}
	case *types.AttributeValueMemberSS:
		return map[string]any{"SS": append([]string{}, v.Value...)}
	case *types.AttributeValueMemberNS:
		return map[string]any{"NS": append([]string{}, v.Value...)}
	case *types.AttributeValueMemberBS:
		out := make([]string, len(v.Value))
		for i, b := range v.Value {
			out[i] = base64.StdEncoding.EncodeToString(b)
		}
		return map[string]any{"BS": out}
	}
	return nil
}

// ItemTyped converts an item with ToTyped.
func ItemTyped(item Item) map[string]any {
	out := make(map[string]any, len(item))
	for k, v := range item {
		out[k] = ToTyped(v)
	}
	return out
}

// FromTyped reads one DynamoDB-JSON value (as decoded by encoding/json).
func FromTyped(v any) (types.AttributeValue, error) {
	m, ok := v.(map[string]any)
	if !ok || len(m) != 1 {
		return nil, fmt.Errorf("expected a DynamoDB-typed value such as {\"S\":\"x\"}, got %s", describeJSON(v))
	}
	for typ, raw := range m {
		switch typ {
		case "S":
			if s, ok := raw.(string); ok {
				return &types.AttributeValueMemberS{Value: s}, nil
			}
		case "N":
			if s, ok := numberText(raw); ok {
				return &types.AttributeValueMemberN{Value: s}, nil
			}
		case "BOOL":
			if b, ok := raw.(bool); ok {
				return &types.AttributeValueMemberBOOL{Value: b}, nil
			}
		case "NULL":
			return &types.AttributeValueMemberNULL{Value: true}, nil
		case "B":
			if s, ok := raw.(string); ok {
				b, err := base64.StdEncoding.DecodeString(s)
				if err != nil {
					return nil, fmt.Errorf("B value is not base64: %w", err)
				}
				return &types.AttributeValueMemberB{Value: b}, nil
			}
		case "L":
			if l, ok := raw.([]any); ok {
				out := make([]types.AttributeValue, len(l))
				for i, e := range l {
					av, err := FromTyped(e)
					if err != nil {
						return nil, err
					}
					out[i] = av
				}
				return &types.AttributeValueMemberL{Value: out}, nil
			}
		case "M":
			if mm, ok := raw.(map[string]any); ok {
				item, err := ItemFromTyped(mm)
				if err != nil {
					return nil, err
				}
				return &types.AttributeValueMemberM{Value: item}, nil
			}
		case "SS", "NS", "BS":
			l, ok := raw.([]any)
			if !ok {
				break
			}
			strs := make([]string, len(l))
			for i, e := range l {
				s, ok := numberText(e)
				if !ok {
					return nil, fmt.Errorf("%s members must be strings", typ)
				}
				strs[i] = s
			}
			switch typ {
			case "SS":
				return &types.AttributeValueMemberSS{Value: strs}, nil
			case "NS":
				return &types.AttributeValueMemberNS{Value: strs}, nil
			}
			bs := make([][]byte, len(strs))
			for i, s := range strs {
				b, err := base64.StdEncoding.DecodeString(s)
				if err != nil {
					return nil, fmt.Errorf("BS member is not base64: %w", err)
				}
				bs[i] = b
			}
			return &types.AttributeValueMemberBS{Value: bs}, nil
		default:
			return nil, fmt.Errorf("unknown DynamoDB type %q (use S, N, B, BOOL, NULL, L, M, SS, NS or BS)", typ)
		}
		return nil, fmt.Errorf("%s value has the wrong JSON type: %s", typ, describeJSON(raw))
	}
	return nil, nil // unreachable: len(m) == 1
}

// ItemFromTyped reads a DynamoDB-JSON item.
func ItemFromTyped(m map[string]any) (Item, error) {
	out := make(Item, len(m))
	for k, v := range m {
		av, err := FromTyped(v)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", k, err)
		}
		out[k] = av
	}
	return out, nil
}

// FromJSON converts a plain JSON value (decoded with UseNumber, or built in
// Go) to an attribute value: string→S, number→N, bool→BOOL, null→NULL,
// array→L, object→M.
func FromJSON(v any) (types.AttributeValue, error) {
	switch x := v.(type) {
	case nil:
		return &types.AttributeValueMemberNULL{Value: true}, nil
	case string:
		return &types.AttributeValueMemberS{Value: x}, nil
	case bool:
		return &types.AttributeValueMemberBOOL{Value: x}, nil
	case json.Number:
		return &types.AttributeValueMemberN{Value: x.String()}, nil
	case float64:
		return &types.AttributeValueMemberN{Value: strconv.FormatFloat(x, 'f', -1, 64)}, nil
	case int:
		return &types.AttributeValueMemberN{Value: strconv.Itoa(x)}, nil
	case int64:
		return &types.AttributeValueMemberN{Value: strconv.FormatInt(x, 10)}, nil
	case []byte:
		return &types.AttributeValueMemberB{Value: x}, nil
	case []any:
		out := make([]types.AttributeValue, len(x))
		for i, e := range x {
			av, err := FromJSON(e)
			if err != nil {
				return nil, err
			}
			out[i] = av
		}
		return &types.AttributeValueMemberL{Value: out}, nil
	case map[string]any:
		item := make(Item, len(x))
		for k, e := range x {
			av, err := FromJSON(e)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", k, err)
			}
			item[k] = av
		}
		return &types.AttributeValueMemberM{Value: item}, nil
	}
	return nil, fmt.Errorf("cannot store a %T in DynamoDB", v)
}

// ParseJSONObject decodes a plain JSON object into attribute values, keeping
// numbers exactly as written. It is how --values and JSON keys are read.
func ParseJSONObject(data string) (Item, error) {
	dec := json.NewDecoder(strings.NewReader(data))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		return nil, fmt.Errorf("not a JSON object: %w", err)
	}
	if dec.More() {
		return nil, fmt.Errorf("not a JSON object: unexpected data after the closing brace")
	}
	if m == nil {
		return nil, fmt.Errorf("not a JSON object: got null")
	}
	out := make(Item, len(m))
	for k, v := range m {
		av, err := FromJSON(v)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", k, err)
		}
		out[k] = av
	}
	return out, nil
}

var jsonNumber = regexp.MustCompile(`^-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?$`)

// ParseValue reads a value typed on the command line. When the attribute's
// type is known (a key attribute: S, N or B) the value is read as that type.
// Otherwise it is inferred: 'quoted' or "quoted" text is a string, true and
// false are BOOL, null is NULL, a JSON number is N, anything else a string.
func ParseValue(s string, typ types.ScalarAttributeType) (types.AttributeValue, error) {
	s = strings.TrimSpace(s)
	unq, quoted := unquote(s)
	switch typ {
	case types.ScalarAttributeTypeS:
		return &types.AttributeValueMemberS{Value: unq}, nil
	case types.ScalarAttributeTypeN:
		if !jsonNumber.MatchString(unq) {
			return nil, fmt.Errorf("%q is not a number, and the attribute is of type N", s)
		}
		return &types.AttributeValueMemberN{Value: unq}, nil
	case types.ScalarAttributeTypeB:
		b, err := base64.StdEncoding.DecodeString(unq)
		if err != nil {
			return nil, fmt.Errorf("%q is not base64, and the attribute is of type B", s)
		}
		return &types.AttributeValueMemberB{Value: b}, nil
	}
	if quoted {
		return &types.AttributeValueMemberS{Value: unq}, nil
	}
	switch s {
	case "true", "false":
		return &types.AttributeValueMemberBOOL{Value: s == "true"}, nil
	case "null":
		return &types.AttributeValueMemberNULL{Value: true}, nil
	}
	if jsonNumber.MatchString(s) {
		return &types.AttributeValueMemberN{Value: s}, nil
	}
	return &types.AttributeValueMemberS{Value: s}, nil
}

func unquote(s string) (string, bool) {
	if len(s) >= 2 && (s[0] == '\'' || s[0] == '"') && s[len(s)-1] == s[0] {
		return s[1 : len(s)-1], true
	}
	return s, false
}

// Text renders an attribute value for a table cell: strings and numbers as
// they are, collections as compact JSON.
func Text(av types.AttributeValue) string {
	switch v := av.(type) {
	case nil:
		return ""
	case *types.AttributeValueMemberS:
		return v.Value
	case *types.AttributeValueMemberN:
		return v.Value
	case *types.AttributeValueMemberBOOL:
		return strconv.FormatBool(v.Value)
	case *types.AttributeValueMemberNULL:
		return "null"
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(ToJSON(av)); err != nil {
		return "?"
	}
	return strings.TrimRight(buf.String(), "\n")
}

// KeyString renders a key as attr=value pairs in a stable order, for
// messages.
func KeyString(key Item) string {
	names := make([]string, 0, len(key))
	for k := range key {
		names = append(names, k)
	}
	sort.Strings(names)
	parts := make([]string, len(names))
	for i, n := range names {
		parts[i] = n + "=" + Text(key[n])
	}
	return strings.Join(parts, ", ")
}

func numberText(v any) (string, bool) {
	switch x := v.(type) {
	case string:
		return x, true
	case json.Number:
		return x.String(), true
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64), true
	}
	return "", false
}

func describeJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprintf("%v", v)
	}
	if len(b) > 60 {
		b = append(b[:57], "..."...)
	}
	return string(b)
}
