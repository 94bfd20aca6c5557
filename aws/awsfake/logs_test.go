package awsfake

import (
	"context"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
)

func TestLogsServerProtocol(t *testing.T) {
	s := NewLogsServer(t)
	s.SetLogsPageSize(1)
	s.AddLogsEvents("/g", LogsEvent{Timestamp: 2, Message: "b x"}, LogsEvent{Timestamp: 1, Message: "a x"}, LogsEvent{Timestamp: 3, Message: "c"})
	c, ctx := s.LogsClient(), context.Background()
	var got []string
	var tok *string
	for {
		out, err := c.FilterLogEvents(ctx, &cloudwatchlogs.FilterLogEventsInput{LogGroupName: aws.String("/g"), FilterPattern: aws.String(`"x"`), NextToken: tok})
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range out.Events {
			got = append(got, aws.ToString(e.Message))
		}
		if tok = out.NextToken; tok == nil {
			break
		}
	}
	if strings.Join(got, ",") != "a x,b x" {
		t.Fatalf("got %v", got)
	}
	s.ThrottleLogs(1)
	if _, err := c.FilterLogEvents(ctx, &cloudwatchlogs.FilterLogEventsInput{LogGroupName: aws.String("/g")}); err == nil || !strings.Contains(err.Error(), "ThrottlingException") {
		t.Fatalf("throttle: %v", err)
	}
	if _, err := c.StartLiveTail(ctx, &cloudwatchlogs.StartLiveTailInput{LogGroupIdentifiers: []string{"arn"}}); err == nil {
		t.Fatal("live tail should fail")
	}
}
