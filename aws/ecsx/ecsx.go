// Package ecsx reads the state of ECS services for nexus: desired, running
// and pending task counts and the rollout of each deployment.
package ecsx

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/ecs/types"
)

// API is the part of the ECS client this package uses.
type API interface {
	DescribeServices(ctx context.Context, in *ecs.DescribeServicesInput, optFns ...func(*ecs.Options)) (*ecs.DescribeServicesOutput, error)
}

var _ API = (*ecs.Client)(nil)

// maxServices is how many services one DescribeServices call may name.
const maxServices = 10

// Rollout states of a deployment, as ECS reports them.
const (
	RolloutCompleted  = "COMPLETED"
	RolloutInProgress = "IN_PROGRESS"
	RolloutFailed     = "FAILED"
)

// Deployment is one deployment of a service.
type Deployment struct {
	ID           string    `json:"id"`
	Status       string    `json:"status"` // PRIMARY, ACTIVE, INACTIVE
	RolloutState string    `json:"rollout_state,omitempty"`
	Reason       string    `json:"reason,omitempty"`
	Desired      int       `json:"desired"`
	Running      int       `json:"running"`
	Pending      int       `json:"pending"`
	FailedTasks  int       `json:"failed_tasks"`
	Created      time.Time `json:"created"`
}

// Service is the state of one ECS service.
type Service struct {
	Name        string       `json:"name"`
	ARN         string       `json:"arn,omitempty"`
	Status      string       `json:"status"` // ACTIVE, DRAINING, INACTIVE, or MISSING when ECS does not know it
	Desired     int          `json:"desired"`
	Running     int          `json:"running"`
	Pending     int          `json:"pending"`
	Deployments []Deployment `json:"deployments"`
}

// StatusMissing marks a service ECS reported as a failure (not found).
const StatusMissing = "MISSING"

// Rolling reports whether a deployment is still rolling out: more than one
// deployment, or the primary one in progress.
func (s Service) Rolling() bool {
	if len(s.Deployments) > 1 {
		return true
	}
	for _, d := range s.Deployments {
		if d.RolloutState == RolloutInProgress {
			return true
		}
	}
	return false
}

// FailedDeployment returns the first deployment whose rollout failed.
func (s Service) FailedDeployment() (Deployment, bool) {
	for _, d := range s.Deployments {
		if d.RolloutState == RolloutFailed {
			return d, true
		}
	}
	return Deployment{}, false
}

// DescribeServices returns the named services of cluster in the order
// asked. A service ECS reports as a failure comes back with the failure's
// reason as Status (MISSING when ECS does not know it).
func DescribeServices(ctx context.Context, api API, cluster string, names ...string) ([]Service, error) {
	byName := map[string]Service{}
	for start := 0; start < len(names); start += maxServices {
		batch := names[start:min(start+maxServices, len(names))]
		out, err := api.DescribeServices(ctx, &ecs.DescribeServicesInput{Cluster: aws.String(cluster), Services: batch})
		if err != nil {
			return nil, fmt.Errorf("describing ECS services in cluster %s: %w", cluster, err)
		}
		for _, s := range out.Services {
			svc := fromSDK(s)
			byName[svc.Name] = svc
			byName[svc.ARN] = svc
		}
		for _, f := range out.Failures {
			arn := aws.ToString(f.Arn)
			svc := Service{Name: nameFromARN(arn), ARN: arn, Status: StatusMissing}
			if r := aws.ToString(f.Reason); r != "" && r != StatusMissing {
				svc.Status = r
			}
			byName[svc.Name] = svc
			byName[arn] = svc
		}
	}
	res := make([]Service, 0, len(names))
	for _, n := range names {
		svc, ok := byName[n]
		if !ok {
			svc, ok = byName[nameFromARN(n)]
		}
		if !ok {
			svc = Service{Name: n, Status: StatusMissing}
		}
		res = append(res, svc)
	}
	return res, nil
}

func fromSDK(s types.Service) Service {
	svc := Service{
		Name:        aws.ToString(s.ServiceName),
		ARN:         aws.ToString(s.ServiceArn),
		Status:      aws.ToString(s.Status),
		Desired:     int(s.DesiredCount),
		Running:     int(s.RunningCount),
		Pending:     int(s.PendingCount),
		Deployments: []Deployment{},
	}
	for _, d := range s.Deployments {
		svc.Deployments = append(svc.Deployments, Deployment{
			ID:           aws.ToString(d.Id),
			Status:       aws.ToString(d.Status),
			RolloutState: string(d.RolloutState),
			Reason:       aws.ToString(d.RolloutStateReason),
			Desired:      int(d.DesiredCount),
			Running:      int(d.RunningCount),
			Pending:      int(d.PendingCount),
			FailedTasks:  int(d.FailedTasks),
			Created:      aws.ToTime(d.CreatedAt),
		})
	}
	return svc
}

// nameFromARN is the service name of "arn:aws:ecs:r:a:service/cluster/name"
// (or the old "service/name"); anything else is returned as is.
func nameFromARN(arn string) string {
	if !strings.HasPrefix(arn, "arn:") {
		return arn
	}
	if i := strings.LastIndexByte(arn, '/'); i >= 0 {
		return arn[i+1:]
	}
	return arn
}

// UpdateAPI is the ECS call ForceNewDeployment makes.
type UpdateAPI interface {
	UpdateService(ctx context.Context, in *ecs.UpdateServiceInput, optFns ...func(*ecs.Options)) (*ecs.UpdateServiceOutput, error)
}

// ForceNewDeployment starts a new deployment of service with its current
// task definition and desired count (UpdateService forceNewDeployment), so
// ECS replaces its tasks, and returns the service's state after the call.
func ForceNewDeployment(ctx context.Context, api UpdateAPI, cluster, service string) (*Service, error) {
	out, err := api.UpdateService(ctx, &ecs.UpdateServiceInput{Cluster: aws.String(cluster), Service: aws.String(service), ForceNewDeployment: true})
	if err != nil {
		return nil, fmt.Errorf("forcing a new deployment of ECS service %s in cluster %s: %w", service, cluster, err)
	}
	if out.Service == nil {
		return &Service{Name: service}, nil
	}
	svc := fromSDK(*out.Service)
	return &svc, nil
}
