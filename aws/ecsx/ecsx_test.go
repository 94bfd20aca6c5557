package ecsx_test

import (
	"context"
	"testing"
	"time"

	"github.com/nexus-compliance/nexus/aws/awsfake"
	"github.com/nexus-compliance/nexus/aws/ecsx"
)

func TestDescribeServicesOnFake(t *testing.T) {
	t.Parallel()
	srv := awsfake.NewECSServer(t)
	created := time.Now().Add(-time.Hour).Truncate(time.Second)
	srv.SetService(awsfake.ECSService{Cluster: "nexus", Name: "science", Desired: 2, Running: 2, Deployments: []awsfake.ECSDeployment{
		{ID: "ecs-svc/1", Status: "PRIMARY", RolloutState: "COMPLETED", Desired: 2, Running: 2, Created: created}}})
	srv.SetService(awsfake.ECSService{Cluster: "nexus", Name: "strands", Desired: 2, Running: 1, Pending: 1, Deployments: []awsfake.ECSDeployment{
		{ID: "ecs-svc/3", Status: "PRIMARY", RolloutState: "FAILED", Reason: "circuit breaker tripped", Desired: 2, Running: 0, FailedTasks: 3},
		{ID: "ecs-svc/2", Status: "ACTIVE", RolloutState: "COMPLETED", Desired: 2, Running: 1}}})
	got, err := ecsx.DescribeServices(context.Background(), srv.ECSClient(), "nexus", "science", "strands", "gone")
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 {
		t.Fatalf("%+v", got)
	}
	sci, str, gone := got[0], got[1], got[2]
	if sci.Name != "science" || sci.Status != "ACTIVE" || sci.Desired != 2 || sci.Running != 2 || sci.Rolling() ||
		len(sci.Deployments) != 1 || !sci.Deployments[0].Created.Equal(created) {
		t.Errorf("science = %+v", sci)
	}
	if d, failed := str.FailedDeployment(); !failed || d.Reason != "circuit breaker tripped" || d.FailedTasks != 3 || !str.Rolling() || str.Pending != 1 {
		t.Errorf("strands = %+v", str)
	}
	if gone.Name != "gone" || gone.Status != ecsx.StatusMissing {
		t.Errorf("missing = %+v", gone)
	}
	if srv.Calls() != 1 {
		t.Errorf("calls = %d", srv.Calls())
	}
}

func TestDescribeServicesDeniedOnFake(t *testing.T) {
	t.Parallel()
	srv := awsfake.NewECSServer(t)
	srv.Deny()
	if _, err := ecsx.DescribeServices(context.Background(), srv.ECSClient(), "nexus", "science"); err == nil {
		t.Fatal("no error")
	}
}

func TestForceNewDeploymentOnFake(t *testing.T) {
	t.Parallel()
	srv := awsfake.NewECSServer(t)
	srv.SetService(awsfake.ECSService{Cluster: "nexus", Name: "science", Desired: 2, Running: 1, Deployments: []awsfake.ECSDeployment{
		{ID: "ecs-svc/1", Status: "PRIMARY", RolloutState: "COMPLETED", Desired: 2, Running: 1}}})
	svc, err := ecsx.ForceNewDeployment(context.Background(), srv.ECSClient(), "nexus", "science")
	if err != nil {
		t.Fatal(err)
	}
	if svc.Name != "science" || len(svc.Deployments) != 2 || svc.Deployments[0].Status != "PRIMARY" ||
		svc.Deployments[0].RolloutState != ecsx.RolloutInProgress || svc.Deployments[1].Status != "ACTIVE" || !svc.Rolling() {
		t.Errorf("after the forced deployment: %+v", svc)
	}
	if u := srv.Updates(); len(u) != 1 || u[0] != (awsfake.ECSUpdate{Cluster: "nexus", Service: "science", ForceNewDeployment: true}) {
		t.Errorf("updates = %+v", u)
	}
	if _, err := ecsx.ForceNewDeployment(context.Background(), srv.ECSClient(), "nexus", "gone"); err == nil {
		t.Error("a missing service: no error")
	}
}
