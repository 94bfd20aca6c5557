package dynamo

import (
	"reflect"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

func TestParseCondition(t *testing.T) {
	tests := []struct {
		in      string
		want    Condition
		wantErr string
	}{
		{in: "status=PENDING", want: Condition{Attr: "status", Op: OpEq, Args: []string{"PENDING"}}},
		{in: " status == PENDING ", want: Condition{Attr: "status", Op: OpEq, Args: []string{"PENDING"}}},
		{in: "status<>FAILED", want: Condition{Attr: "status", Op: OpNe, Args: []string{"FAILED"}}},
		{in: "status!=FAILED", want: Condition{Attr: "status", Op: OpNe, Args: []string{"FAILED"}}},
		{in: "created_at<2024-06-01", want: Condition{Attr: "created_at", Op: OpLt, Args: []string{"2024-06-01"}}},
		{in: "score<=0.5", want: Condition{Attr: "score", Op: OpLe, Args: []string{"0.5"}}},
		{in: "score>0.5", want: Condition{Attr: "score", Op: OpGt, Args: []string{"0.5"}}},
		{in: "score>=0.5", want: Condition{Attr: "score", Op: OpGe, Args: []string{"0.5"}}},
		{in: "controlKey=AWS.ControlCatalog#1.0#API_GW_CACHE_ENABLED", want: Condition{Attr: "controlKey", Op: OpEq, Args: []string{"AWS.ControlCatalog#1.0#API_GW_CACHE_ENABLED"}}},
		{in: "blob=YWJj==", want: Condition{Attr: "blob", Op: OpEq, Args: []string{"YWJj=="}}},
		{in: "reasoning=see (AC-1)", want: Condition{Attr: "reasoning", Op: OpEq, Args: []string{"see (AC-1)"}}},
		{in: "begins_with(controlKey,NIST-SP-800-53#R5#)", want: Condition{Attr: "controlKey", Op: OpBeginsWith, Args: []string{"NIST-SP-800-53#R5#"}}},
		{in: "BEGINS_WITH(controlKey, a,b)", want: Condition{Attr: "controlKey", Op: OpBeginsWith, Args: []string{"a,b"}}},
		{in: "contains(reasoning,IAM)", want: Condition{Attr: "reasoning", Op: OpContains, Args: []string{"IAM"}}},
		{in: "between(created_at,2024-01-01,2024-02-01)", want: Condition{Attr: "created_at", Op: OpBetween, Args: []string{"2024-01-01", "2024-02-01"}}},
		{in: "between(name,'a,b',c)", want: Condition{Attr: "name", Op: OpBetween, Args: []string{"'a,b'", "c"}}},
		{in: "attribute_exists(error_message)", want: Condition{Attr: "error_message", Op: OpExists}},
		{in: "attribute_not_exists(ttl)", want: Condition{Attr: "ttl", Op: OpNotExists}},
		{in: "", wantErr: "empty condition"},
		{in: "status", wantErr: "has no operator"},
		{in: "=PENDING", wantErr: "no attribute name"},
		{in: "begins_with(controlKey)", wantErr: "takes an attribute and a value"},
		{in: "between(a,1)", wantErr: "two values"},
		{in: "attribute_exists(a,b)", wantErr: "one attribute name"},
		{in: "size(a)", wantErr: "unknown function"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseCondition(tt.in)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("got %#v, want %#v", got, tt.want)
			}
		})
	}
}

func TestConditionExpression(t *testing.T) {
	typeOf := func(a string) types.ScalarAttributeType {
		if a == "controlKey" {
			return types.ScalarAttributeTypeS
		}
		return ""
	}
	tests := []struct {
		in     string
		expr   string
		values map[string]types.AttributeValue
	}{
		{"status=PENDING", "#n0 = :v0", map[string]types.AttributeValue{":v0": S("PENDING")}},
		{"score>=0.9", "#n0 >= :v0", map[string]types.AttributeValue{":v0": N("0.9")}},
		{"version='5'", "#n0 = :v0", map[string]types.AttributeValue{":v0": S("5")}},
		{"controlKey=5", "#n0 = :v0", map[string]types.AttributeValue{":v0": S("5")}},
		{"done=true", "#n0 = :v0", map[string]types.AttributeValue{":v0": &types.AttributeValueMemberBOOL{Value: true}}},
		{"begins_with(controlKey,NIST)", "begins_with(#n0, :v0)", map[string]types.AttributeValue{":v0": S("NIST")}},
		{"between(n,1,2)", "#n0 BETWEEN :v0 AND :v1", map[string]types.AttributeValue{":v0": N("1"), ":v1": N("2")}},
		{"attribute_not_exists(ttl)", "attribute_not_exists(#n0)", nil},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			c, err := ParseCondition(tt.in)
			if err != nil {
				t.Fatal(err)
			}
			b := NewBuilder()
			expr, err := c.Expression(b, typeOf)
			if err != nil {
				t.Fatal(err)
			}
			if expr != tt.expr {
				t.Errorf("expr = %q, want %q", expr, tt.expr)
			}
			if !reflect.DeepEqual(b.Values(), tt.values) {
				t.Errorf("values = %#v, want %#v", b.Values(), tt.values)
			}
			if b.Names()["#n0"] != c.Attr {
				t.Errorf("names = %v", b.Names())
			}
		})
	}
}

func TestBuilderMergeAndAnd(t *testing.T) {
	b := NewBuilder()
	if got := b.Equal("status", S("PENDING")); got != "#n0 = :v0" {
		t.Fatal(got)
	}
	if got := b.Name("status"); got != "#n0" {
		t.Fatalf("same attribute, new placeholder %s", got)
	}
	if err := b.Merge(map[string]string{"#s": "status"}, map[string]types.AttributeValue{":s": S("RUNNING")}); err != nil {
		t.Fatal(err)
	}
	if err := b.Merge(map[string]string{"#n0": "other"}, nil); err == nil {
		t.Fatal("rebinding #n0 should fail")
	}
	if err := b.Merge(nil, map[string]types.AttributeValue{":v0": S("x")}); err == nil {
		t.Fatal("rebinding :v0 should fail")
	}
	if err := b.Merge(map[string]string{"s": "status"}, nil); err == nil {
		t.Fatal("placeholder without # should fail")
	}
	if got := b.In("status", S("RUNNING"), S("IN_PROGRESS")); got != "#n0 IN (:v1, :v2)" {
		t.Fatal(got)
	}
	if got := And("a = b", "", "c = d"); got != "(a = b) AND (c = d)" {
		t.Fatal(got)
	}
	if got := And("", "a = b"); got != "a = b" {
		t.Fatal(got)
	}
	if NewBuilder().Names() != nil || NewBuilder().Values() != nil {
		t.Fatal("empty builder must give nil maps")
	}
}

func TestValidateKey(t *testing.T) {
	for in, ok := range map[string]bool{"a=1": true, "a<1": false, "begins_with(a,x)": false} {
		c, _ := ParseCondition(in)
		if err := c.ValidateKey(false); (err == nil) != ok {
			t.Errorf("partition %s: %v", in, err)
		}
	}
	for in, ok := range map[string]bool{"a=1": true, "a<1": true, "a>=1": true, "begins_with(a,x)": true, "between(a,1,2)": true, "a<>1": false, "contains(a,x)": false, "attribute_exists(a)": false} {
		c, _ := ParseCondition(in)
		if err := c.ValidateKey(true); (err == nil) != ok {
			t.Errorf("sort %s: %v", in, err)
		}
	}
}
