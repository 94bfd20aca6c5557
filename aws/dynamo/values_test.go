package dynamo

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

func TestParseValue(t *testing.T) {
	tests := []struct {
		in      string
		typ     types.ScalarAttributeType
		want    types.AttributeValue
		wantErr string
	}{
		{in: "PENDING", want: S("PENDING")},
		{in: "42", want: N("42")},
		{in: "-1.5e3", want: N("-1.5e3")},
		{in: "12345678901234567890.123456789", want: N("12345678901234567890.123456789")},
		{in: "007", want: S("007")},
		{in: "2024-01-15T10:00:00Z", want: S("2024-01-15T10:00:00Z")},
		{in: "'42'", want: S("42")},
		{in: `"true"`, want: S("true")},
		{in: "true", want: &types.AttributeValueMemberBOOL{Value: true}},
		{in: "false", want: &types.AttributeValueMemberBOOL{Value: false}},
		{in: "null", want: &types.AttributeValueMemberNULL{Value: true}},
		{in: "42", typ: types.ScalarAttributeTypeS, want: S("42")},
		{in: "'x'", typ: types.ScalarAttributeTypeS, want: S("x")},
		{in: "42", typ: types.ScalarAttributeTypeN, want: N("42")},
		{in: "abc", typ: types.ScalarAttributeTypeN, wantErr: "not a number"},
		{in: "YWJj", typ: types.ScalarAttributeTypeB, want: &types.AttributeValueMemberB{Value: []byte("abc")}},
		{in: "!!", typ: types.ScalarAttributeTypeB, wantErr: "not base64"},
	}
	for _, tt := range tests {
		t.Run(tt.in+"/"+string(tt.typ), func(t *testing.T) {
			got, err := ParseValue(tt.in, tt.typ)
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

func sampleItem() Item {
	return Item{
		"s":    S("text"),
		"n":    N("12345678901234567890.000000001"),
		"b":    &types.AttributeValueMemberB{Value: []byte("hi")},
		"t":    &types.AttributeValueMemberBOOL{Value: true},
		"null": &types.AttributeValueMemberNULL{Value: true},
		"l":    &types.AttributeValueMemberL{Value: []types.AttributeValue{S("a"), N("1")}},
		"m":    &types.AttributeValueMemberM{Value: Item{"x": N("0.95")}},
		"ss":   &types.AttributeValueMemberSS{Value: []string{"a", "b"}},
		"ns":   &types.AttributeValueMemberNS{Value: []string{"1", "2.5"}},
		"bs":   &types.AttributeValueMemberBS{Value: [][]byte{[]byte("x")}},
	}
}

func TestItemJSONKeepsPrecision(t *testing.T) {
	b, err := json.Marshal(ItemJSON(sampleItem()))
	if err != nil {
		t.Fatal(err)
	}
	want := `{"b":"aGk=","bs":["eA=="],"l":["a",1],"m":{"x":0.95},"n":12345678901234567890.000000001,"ns":[1,2.5],"null":null,"s":"text","ss":["a","b"],"t":true}`
	if string(b) != want {
		t.Fatalf("got  %s\nwant %s", b, want)
	}
}

func TestTypedRoundTrip(t *testing.T) {
	item := sampleItem()
	b, err := json.Marshal(ItemTyped(item))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), `"n":{"N":"12345678901234567890.000000001"}`) {
		t.Fatalf("typed JSON lost the number: %s", b)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	back, err := ItemFromTyped(m)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back, item) {
		t.Fatalf("round trip changed the item:\n%#v\n%#v", back, item)
	}
	if _, err := FromTyped(map[string]any{"X": "1"}); err == nil {
		t.Fatal("unknown type accepted")
	}
	if _, err := FromTyped("plain"); err == nil {
		t.Fatal("untyped value accepted")
	}
}

func TestParseJSONObject(t *testing.T) {
	got, err := ParseJSONObject(`{":s":"PENDING",":n":10.50,":b":false,":l":[1,"a"],":m":{"k":null}}`)
	if err != nil {
		t.Fatal(err)
	}
	want := Item{
		":s": S("PENDING"), ":n": N("10.50"), ":b": &types.AttributeValueMemberBOOL{},
		":l": &types.AttributeValueMemberL{Value: []types.AttributeValue{N("1"), S("a")}},
		":m": &types.AttributeValueMemberM{Value: Item{"k": &types.AttributeValueMemberNULL{Value: true}}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %#v", got)
	}
	for _, bad := range []string{`{":s":`, `[1]`, `null`, `{"a":1} x`} {
		if _, err := ParseJSONObject(bad); err == nil {
			t.Errorf("%s accepted", bad)
		}
	}
}

func TestCursorRoundTrip(t *testing.T) {
	c := &Cursor{Segments: []SegmentCursor{{Done: true}, {Key: Item{"job_id": S("a"), "n": N("1")}}, {}}}
	back, err := ParseCursor(c.Encode())
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back, c) {
		t.Fatalf("got %#v", back)
	}
	for _, bad := range []string{"", "!!!", "e30"} {
		if _, err := ParseCursor(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestText(t *testing.T) {
	for av, want := range map[types.AttributeValue]string{
		S("x"): "x", N("1.50"): "1.50", &types.AttributeValueMemberBOOL{Value: true}: "true",
		&types.AttributeValueMemberM{Value: Item{"a": N("1")}}: `{"a":1}`,
	} {
		if got := Text(av); got != want {
			t.Errorf("Text = %q, want %q", got, want)
		}
	}
	if got := KeyString(Item{"b": S("2"), "a": S("1")}); got != "a=1, b=2" {
		t.Errorf("KeyString = %q", got)
	}
}
