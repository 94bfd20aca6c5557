package awsfake

import (
	"io"
	"net/http"
	"net/http/httptest"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	"github.com/aws/smithy-go/encoding/cbor"
)

// CWAlarm is one alarm held by a CWServer. Rule set makes it a composite
// alarm; otherwise it is a metric alarm on Namespace/MetricName.
type CWAlarm struct {
	Name       string
	State      string // ALARM, OK, INSUFFICIENT_DATA
	Reason     string
	Updated    time.Time
	Namespace  string
	MetricName string
	Dimensions map[string]string
	Statistic  string
	Comparison string // GreaterThanThreshold…
	Threshold  float64
	Period     int
	Evaluation int
	Rule       string
}

// CWDatapoint is one value of a metric held by a CWServer.
type CWDatapoint struct {
	Time  time.Time
	Value float64
}

// CWServer is a CloudWatch endpoint on loopback speaking the protocol the
// SDK in go.mod sends: Smithy RPC v2 CBOR (POST
// /service/GraniteServiceVersion20100801/operation/<Op>, CBOR bodies,
// errors as {"__type","message"} with the awsQueryCompatible
// X-Amzn-Query-Error header). It implements DescribeAlarms (StateValue,
// AlarmNamePrefix, AlarmTypes, MaxRecords and NextToken paging) and
// GetMetricData (MetricStat queries over stored datapoints, newest first).
type CWServer struct {
	URL string
	// PageSize bounds the alarms of one DescribeAlarms page (default 2, so
	// tests exercise paging), below MaxRecords when the caller sends less.
	PageSize int

	mu       sync.Mutex
	alarms   []CWAlarm
	metrics  map[string][]CWDatapoint
	throttle map[string]int
	deny     map[string]bool
	calls    map[string]int
}

// NewCWServer starts a CWServer that stops when the test ends.
func NewCWServer(t testing.TB) *CWServer {
	t.Helper()
	s := &CWServer{PageSize: 2, metrics: map[string][]CWDatapoint{}, throttle: map[string]int{}, deny: map[string]bool{}, calls: map[string]int{}}
	srv := httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(srv.Close)
	s.URL = srv.URL
	return s
}

// CWClient returns an SDK client for the fake, with dummy credentials and
// the SDK's standard retryer (so throttling is retried as in production).
func (s *CWServer) CWClient(optFns ...func(*cloudwatch.Options)) *cloudwatch.Client {
	return cloudwatch.New(cloudwatch.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(s.URL),
		Credentials:  credentials.NewStaticCredentialsProvider("AKIDFAKE", "secret", ""),
	}, optFns...)
}

// SetAlarms replaces the alarms the server holds.
func (s *CWServer) SetAlarms(alarms ...CWAlarm) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.alarms = append([]CWAlarm(nil), alarms...)
}

// PutMetric adds datapoints to a metric (dimensions must match exactly).
func (s *CWServer) PutMetric(namespace, name string, dims map[string]string, points ...CWDatapoint) {
	s.mu.Lock()
	defer s.mu.Unlock()
	k := cwMetricKey(namespace, name, dims)
	s.metrics[k] = append(s.metrics[k], points...)
}

// Throttle makes the next n calls of op ("DescribeAlarms", "GetMetricData")
// fail with ThrottlingException.
func (s *CWServer) Throttle(op string, n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.throttle[op] = n
}

// Deny makes every call of op fail with AccessDenied.
func (s *CWServer) Deny(op string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.deny[op] = true
}

// Calls is how many requests of op arrived, throttled ones included.
func (s *CWServer) Calls(op string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls[op]
}

const cwPathPrefix = "/service/GraniteServiceVersion20100801/operation/"

func (s *CWServer) serve(w http.ResponseWriter, r *http.Request) {
	op, ok := strings.CutPrefix(r.URL.Path, cwPathPrefix)
	if r.Method != http.MethodPost || !ok || r.Header.Get("Smithy-Protocol") != "rpc-v2-cbor" {
		cwError(w, http.StatusNotFound, "UnknownOperationException", "UnknownOperation", "not an rpc-v2-cbor CloudWatch request: "+r.Method+" "+r.URL.Path)
		return
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		cwError(w, http.StatusBadRequest, "SerializationException", "InvalidParameterValue", err.Error())
		return
	}
	in := cbor.Map{}
	if len(body) > 0 {
		v, err := cbor.Decode(body)
		m, isMap := v.(cbor.Map)
		if err != nil || !isMap {
			cwError(w, http.StatusBadRequest, "SerializationException", "InvalidParameterValue", "body is not a CBOR map")
			return
		}
		in = m
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls[op]++
	if s.deny[op] {
		cwError(w, http.StatusForbidden, "AccessDeniedException", "AccessDenied", "User is not authorized to perform: cloudwatch:"+op)
		return
	}
	if s.throttle[op] > 0 {
		s.throttle[op]--
		cwError(w, http.StatusBadRequest, "ThrottlingException", "Throttling", "Rate exceeded")
		return
	}
	var out cbor.Map
	switch op {
	case "DescribeAlarms":
		out, err = s.describeAlarms(in)
	case "GetMetricData":
		out, err = s.getMetricData(in)
	default:
		cwError(w, http.StatusBadRequest, "UnknownOperationException", "InvalidAction", "operation "+op+" is not served by this fake")
		return
	}
	if err != nil {
		cwError(w, http.StatusBadRequest, "InvalidParameterValueException", "InvalidParameterValue", err.Error())
		return
	}
	w.Header().Set("Smithy-Protocol", "rpc-v2-cbor")
	w.Header().Set("Content-Type", "application/cbor")
	_, _ = w.Write(cbor.Encode(out))
}

type cwParamError string

func (e cwParamError) Error() string { return string(e) }

func (s *CWServer) describeAlarms(in cbor.Map) (cbor.Map, error) {
	state := cwString(in["StateValue"])
	prefix := cwString(in["AlarmNamePrefix"])
	wantMetric, wantComposite := true, false // CloudWatch's default: metric alarms only
	if types, ok := in["AlarmTypes"].(cbor.List); ok {
		wantMetric = false
		for _, t := range types {
			switch cwString(t) {
			case "MetricAlarm":
				wantMetric = true
			case "CompositeAlarm":
				wantComposite = true
			}
		}
	}
	var match []CWAlarm
	for _, a := range s.alarms {
		if (state != "" && a.State != state) || !strings.HasPrefix(a.Name, prefix) {
			continue
		}
		if (a.Rule != "" && !wantComposite) || (a.Rule == "" && !wantMetric) {
			continue
		}
		match = append(match, a)
	}
	sort.Slice(match, func(i, j int) bool { return match[i].Name < match[j].Name })
	start := 0
	if tok := cwString(in["NextToken"]); tok != "" {
		n, err := strconv.Atoi(strings.TrimPrefix(tok, "cw-page-"))
		if err != nil || n < 0 || n > len(match) {
			return nil, cwParamError("invalid NextToken " + tok)
		}
		start = n
	}
	size := s.PageSize
	if size <= 0 {
		size = 50
	}
	if mr, ok := in["MaxRecords"].(cbor.Uint); ok && int(mr) < size {
		size = int(mr)
	}
	end := min(start+size, len(match))
	metric, composite := cbor.List{}, cbor.List{}
	for _, a := range match[start:end] {
		m := cbor.Map{
			"AlarmName":             cbor.String(a.Name),
			"AlarmArn":              cbor.String("arn:aws:cloudwatch:us-east-1:123456789012:alarm:" + a.Name),
			"StateValue":            cbor.String(a.State),
			"StateReason":           cbor.String(a.Reason),
			"StateUpdatedTimestamp": cwTime(a.Updated),
		}
		if a.Rule != "" {
			m["AlarmRule"] = cbor.String(a.Rule)
			composite = append(composite, m)
			continue
		}
		dims := cbor.List{}
		for _, k := range cwSortedKeys(a.Dimensions) {
			dims = append(dims, cbor.Map{"Name": cbor.String(k), "Value": cbor.String(a.Dimensions[k])})
		}
		m["Namespace"] = cbor.String(a.Namespace)
		m["MetricName"] = cbor.String(a.MetricName)
		m["Dimensions"] = dims
		m["Statistic"] = cbor.String(a.Statistic)
		m["ComparisonOperator"] = cbor.String(a.Comparison)
		m["Threshold"] = cbor.Float64(a.Threshold)
		m["Period"] = cbor.Uint(a.Period)
		m["EvaluationPeriods"] = cbor.Uint(a.Evaluation)
		metric = append(metric, m)
	}
	out := cbor.Map{"MetricAlarms": metric, "CompositeAlarms": composite}
	if end < len(match) {
		out["NextToken"] = cbor.String("cw-page-" + strconv.Itoa(end))
	}
	return out, nil
}

func (s *CWServer) getMetricData(in cbor.Map) (cbor.Map, error) {
	queries, _ := in["MetricDataQueries"].(cbor.List)
	startT, okS := cwTimeOf(in["StartTime"])
	endT, okE := cwTimeOf(in["EndTime"])
	if len(queries) == 0 || !okS || !okE {
		return nil, cwParamError("MetricDataQueries, StartTime and EndTime are required")
	}
	results := cbor.List{}
	for _, qv := range queries {
		q, _ := qv.(cbor.Map)
		stat, _ := q["MetricStat"].(cbor.Map)
		metric, _ := stat["Metric"].(cbor.Map)
		if metric == nil {
			return nil, cwParamError("only MetricStat queries are implemented")
		}
		dims := map[string]string{}
		if dl, ok := metric["Dimensions"].(cbor.List); ok {
			for _, dv := range dl {
				d, _ := dv.(cbor.Map)
				dims[cwString(d["Name"])] = cwString(d["Value"])
			}
		}
		var points []CWDatapoint
		for _, p := range s.metrics[cwMetricKey(cwString(metric["Namespace"]), cwString(metric["MetricName"]), dims)] {
			if !p.Time.Before(startT) && p.Time.Before(endT) {
				points = append(points, p)
			}
		}
		sort.Slice(points, func(i, j int) bool { return points[i].Time.After(points[j].Time) })
		ts, vals := cbor.List{}, cbor.List{}
		for _, p := range points {
			ts = append(ts, cwTime(p.Time))
			vals = append(vals, cbor.Float64(p.Value))
		}
		results = append(results, cbor.Map{
			"Id": q["Id"], "Label": metric["MetricName"], "StatusCode": cbor.String("Complete"),
			"Timestamps": ts, "Values": vals,
		})
	}
	return cbor.Map{"MetricDataResults": results, "Messages": cbor.List{}}, nil
}

func cwError(w http.ResponseWriter, status int, typ, queryCode, msg string) {
	w.Header().Set("Smithy-Protocol", "rpc-v2-cbor")
	w.Header().Set("Content-Type", "application/cbor")
	fault := "Sender"
	if status >= 500 {
		fault = "Receiver"
	}
	w.Header().Set("X-Amzn-Query-Error", queryCode+";"+fault)
	w.WriteHeader(status)
	_, _ = w.Write(cbor.Encode(cbor.Map{"__type": cbor.String("com.amazonaws.cloudwatch#" + typ), "message": cbor.String(msg)}))
}

func cwString(v cbor.Value) string {
	s, _ := v.(cbor.String)
	return string(s)
}

func cwTime(t time.Time) cbor.Value {
	return &cbor.Tag{ID: 1, Value: cbor.Float64(float64(t.UnixMilli()) / 1e3)}
}

func cwTimeOf(v cbor.Value) (time.Time, bool) {
	var tag *cbor.Tag
	switch t := v.(type) {
	case *cbor.Tag:
		tag = t
	case cbor.Tag:
		tag = &t
	default:
		return time.Time{}, false
	}
	switch n := tag.Value.(type) {
	case cbor.Float64:
		return time.UnixMilli(int64(float64(n) * 1e3)), true
	case cbor.Float32:
		return time.UnixMilli(int64(float64(n) * 1e3)), true
	case cbor.Uint:
		return time.Unix(int64(n), 0), true
	}
	return time.Time{}, false
}

func cwSortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func cwMetricKey(namespace, name string, dims map[string]string) string {
	var b strings.Builder
	b.WriteString(namespace + "\x00" + name)
	for _, k := range cwSortedKeys(dims) {
		b.WriteString("\x00" + k + "=" + dims[k])
	}
	return b.String()
}
