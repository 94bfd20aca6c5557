package shared

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/spf13/cobra"

	"github.com/nexus-compliance/nexus/aws/dynamo"
	"github.com/nexus-compliance/nexus/commands/cmdutil"
)

// FilterFlags are the flags that select items: --where, --filter with
// --names and --values, and --index.
type FilterFlags struct {
	Where          []string
	Filter         string
	Names          []string
	Values         string
	Index          string
	ConsistentRead bool
}

// AddFilterFlags registers the filter flags.
func AddFilterFlags(cmd *cobra.Command, f *FilterFlags) {
	fl := cmd.Flags()
	fl.StringArrayVarP(&f.Where, "where", "w", nil, "keep items matching a condition, repeatable (ANDed): ATTR=VALUE, ATTR<>VALUE, ATTR<VALUE, ATTR>=VALUE, begins_with(ATTR,PREFIX), contains(ATTR,VALUE), between(ATTR,LOW,HIGH), attribute_exists(ATTR), attribute_not_exists(ATTR); quote a value ('5') to force a string")
	fl.StringVar(&f.Filter, "filter", "", "raw DynamoDB filter expression, ANDed with --where (e.g. '#s = :s')")
	fl.StringArrayVar(&f.Names, "names", nil, "name placeholders of --filter: '#s=status' (repeatable, or comma-separated, or a JSON object)")
	fl.StringVar(&f.Values, "values", "", `value placeholders of --filter as plain JSON: '{":s":"PENDING"}'`)
	fl.StringVar(&f.Index, "index", "", "read a global or local secondary index instead of the table")
	fl.BoolVar(&f.ConsistentRead, "consistent-read", false, "strongly consistent read (not on global secondary indexes)")
}

// PageFlags control paging and output of scan and query.
type PageFlags struct {
	Projection    []string
	Columns       []string
	Limit         int
	PageSize      int32
	StartingToken string
	Raw           bool
}

// DefaultLimit bounds reads unless --limit says otherwise, so a terminal is
// never flooded by accident; --limit 0 reads everything (streamed).
const DefaultLimit = 100

// AddPageFlags registers the paging and output flags.
func AddPageFlags(cmd *cobra.Command, f *PageFlags) {
	fl := cmd.Flags()
	fl.StringSliceVarP(&f.Projection, "projection", "p", nil, "return only these attributes (comma-separated)")
	fl.StringSliceVar(&f.Columns, "columns", nil, "attributes shown as table columns (default: the keys, then a few others)")
	fl.IntVarP(&f.Limit, "limit", "n", DefaultLimit, "stop after this many items; 0 reads everything, streaming page by page")
	fl.Int32Var(&f.PageSize, "page-size", 0, "items DynamoDB evaluates per request (default: as many as fit in 1 MB)")
	fl.StringVar(&f.StartingToken, "starting-token", "", "resume where an earlier run stopped (the token it printed on stderr)")
	fl.BoolVar(&f.Raw, "raw", false, `print items as DynamoDB JSON ({"S":"…"}) instead of plain JSON`)
}

// Build turns the filter flags into a filter expression in b, typing values
// by the table's declared key types. Every mistake is a FlagError naming the
// input and showing an example.
func (f *FilterFlags) Build(b *dynamo.Builder, tbl *dynamo.Table) (string, error) {
	var parts []string
	for _, w := range f.Where {
		c, err := dynamo.ParseCondition(w)
		if err != nil {
			return "", cmdutil.FlagErrorf("invalid --where %q: %v\nExample: --where status=PENDING --where 'begins_with(controlKey,NIST-SP-800-53#R5#)'", w, trimPrefix(err, w))
		}
		expr, err := c.Expression(b, tbl.AttributeType)
		if err != nil {
			return "", cmdutil.FlagErrorf("invalid --where %q: %v", w, err)
		}
		parts = append(parts, expr)
	}
	names, err := ParseNames(f.Names)
	if err != nil {
		return "", err
	}
	var values dynamo.Item
	if strings.TrimSpace(f.Values) != "" {
		if values, err = dynamo.ParseJSONObject(f.Values); err != nil {
			return "", cmdutil.FlagErrorf("invalid --values %q: %v\nExample: --filter '#s = :s' --names '#s=status' --values '{\":s\":\"PENDING\"}'", f.Values, err)
		}
	}
	if (len(names) > 0 || len(values) > 0) && strings.TrimSpace(f.Filter) == "" {
		return "", cmdutil.FlagErrorf("--names and --values only serve --filter; for simple conditions use --where (e.g. --where status=PENDING)")
	}
	if err := b.Merge(names, values); err != nil {
		return "", cmdutil.FlagErrorf("invalid --names/--values: %v", err)
	}
	return dynamo.And(append(parts, f.Filter)...), nil
}

// ParseNames reads --names: '#s=status' entries (repeatable or
// comma-separated) or one JSON object.
func ParseNames(entries []string) (map[string]string, error) {
	out := map[string]string{}
	for _, e := range entries {
		e = strings.TrimSpace(e)
		if strings.HasPrefix(e, "{") {
			var m map[string]string
			if err := json.Unmarshal([]byte(e), &m); err != nil {
				return nil, cmdutil.FlagErrorf("invalid --names %q: %v\nExample: --names '#s=status' or --names '{\"#s\":\"status\"}'", e, err)
			}
			for k, v := range m {
				out[k] = v
			}
			continue
		}
		for _, part := range strings.Split(e, ",") {
			p, attr, ok := strings.Cut(strings.TrimSpace(part), "=")
			p, attr = strings.TrimSpace(p), strings.TrimSpace(attr)
			if !ok || !strings.HasPrefix(p, "#") || len(p) < 2 || attr == "" {
				return nil, cmdutil.FlagErrorf("invalid --names %q: expected #PLACEHOLDER=ATTRIBUTE\nExample: --names '#s=status'", part)
			}
			out[p] = attr
		}
	}
	return out, nil
}

// Request builds the dynamo.Request of a scan (query adds its key
// condition): filter, index, projection, paging, starting token.
func Request(tbl *dynamo.Table, filter *FilterFlags, page *PageFlags, segments int) (dynamo.Request, *dynamo.Builder, error) {
	req := dynamo.Request{Table: tbl.Name, Index: filter.Index, ConsistentRead: filter.ConsistentRead, Segments: segments}
	keys, err := tbl.KeyAttributes(filter.Index)
	if err != nil {
		return req, nil, &cmdutil.FlagError{Err: err}
	}
	req.KeyAttributes = keys
	b := dynamo.NewBuilder()
	if req.Filter, err = filter.Build(b, tbl); err != nil {
		return req, nil, err
	}
	if segments < 0 || segments > 1000000 {
		return req, nil, cmdutil.FlagErrorf("invalid --segments %d: use 1 to 1000000 (e.g. --segments 8)", segments)
	}
	if page != nil {
		if page.Limit < 0 {
			return req, nil, cmdutil.FlagErrorf("invalid --limit %d: use 0 for no limit, or a positive number", page.Limit)
		}
		if page.PageSize < 0 {
			return req, nil, cmdutil.FlagErrorf("invalid --page-size %d: use a positive number (e.g. --page-size 100)", page.PageSize)
		}
		req.Limit, req.PageSize = page.Limit, page.PageSize
		for _, a := range page.Projection {
			if a = strings.TrimSpace(a); a != "" {
				req.Projection = append(req.Projection, a)
			}
		}
		if page.StartingToken != "" {
			cur, err := dynamo.ParseCursor(page.StartingToken)
			if err != nil {
				return req, nil, cmdutil.FlagErrorf("invalid --starting-token: %v; pass the token a limited run printed on stderr", err)
			}
			if req.Segments <= 1 && len(cur.Segments) > 1 {
				req.Segments = len(cur.Segments) // resume a parallel scan as it was
			}
			if max(req.Segments, 1) != len(cur.Segments) {
				return req, nil, cmdutil.FlagErrorf("invalid --starting-token: it resumes a read of %d segment(s), not --segments %d", len(cur.Segments), req.Segments)
			}
			req.Start = cur
		}
	}
	return req, b, nil
}

// KeyValue parses ATTR=VALUE (or a bare VALUE, meaning the given key
// attribute) for a key attribute, typed as the table declares it.
func KeyValue(flag, arg string, key dynamo.Attribute) (types.AttributeValue, error) {
	value := arg
	if attr, v, ok := strings.Cut(arg, "="); ok && strings.TrimSpace(attr) == key.Name {
		value = v
	} else if ok && isAttrName(attr) && !strings.Contains(arg, "#") {
		return nil, cmdutil.FlagErrorf("invalid %s %q: the key attribute is %s, not %s\nExample: %s '%s=VALUE'", flag, arg, key.Name, strings.TrimSpace(attr), flag, key.Name)
	}
	av, err := dynamo.ParseValue(value, scalarType(key.Type))
	if err != nil {
		return nil, cmdutil.FlagErrorf("invalid %s %q: %v", flag, arg, err)
	}
	return av, nil
}

func scalarType(t string) types.ScalarAttributeType { return types.ScalarAttributeType(t) }

func isAttrName(s string) bool {
	s = strings.TrimSpace(s)
	if s == "" {
		return false
	}
	for _, r := range s {
		if r == ' ' || r == '#' || r == '{' || r == '"' {
			return false
		}
	}
	return true
}

// trimPrefix drops the input from a parse error that already quotes it.
func trimPrefix(err error, input string) string {
	msg := err.Error()
	q := fmt.Sprintf("%q", strings.TrimSpace(input))
	if rest, ok := strings.CutPrefix(msg, q); ok {
		return strings.TrimLeft(rest, " :")
	}
	return msg
}
