package awsfake

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
)

// ECSDeployment is one deployment of an ECSService.
type ECSDeployment struct {
	ID           string
	Status       string // PRIMARY, ACTIVE
	RolloutState string // COMPLETED, IN_PROGRESS, FAILED
	Reason       string
	Desired      int
	Running      int
	Pending      int
	FailedTasks  int
	Created      time.Time
}

// ECSService is one service held by an ECSServer.
type ECSService struct {
	Cluster     string
	Name        string
	Status      string // default ACTIVE
	Desired     int
	Running     int
	Pending     int
	Deployments []ECSDeployment
}

// ECSServer is an ECS endpoint on loopback speaking AWS JSON 1.1 (POST /,
// X-Amz-Target: AmazonEC2ContainerServiceV20141113.<Op>). It implements
// DescribeServices, answering unknown services as failures with reason
// MISSING as ECS does, and UpdateService with forceNewDeployment (a new
// PRIMARY deployment IN_PROGRESS; the previous ones become ACTIVE), recorded
// for Updates.
type ECSServer struct {
	URL string

	mu       sync.Mutex
	services map[string]ECSService // cluster + "/" + name
	deny     bool
	calls    int
	updates  []ECSUpdate
}

// ECSUpdate is one UpdateService call an ECSServer accepted.
type ECSUpdate struct {
	Cluster            string
	Service            string
	ForceNewDeployment bool
}

// NewECSServer starts an ECSServer that stops when the test ends.
func NewECSServer(t testing.TB) *ECSServer {
	t.Helper()
	s := &ECSServer{services: map[string]ECSService{}}
	srv := httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(srv.Close)
	s.URL = srv.URL
	return s
}

// ECSClient returns an SDK client for the fake, with dummy credentials.
func (s *ECSServer) ECSClient(optFns ...func(*ecs.Options)) *ecs.Client {
	return ecs.New(ecs.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(s.URL),
		Credentials:  credentials.NewStaticCredentialsProvider("AKIDFAKE", "secret", ""),
	}, optFns...)
}

// SetService adds or replaces a service.
func (s *ECSServer) SetService(svc ECSService) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.services[svc.Cluster+"/"+svc.Name] = svc
}

// Deny makes every call fail with AccessDeniedException.
func (s *ECSServer) Deny() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.deny = true
}

// Calls is how many requests arrived.
func (s *ECSServer) Calls() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls
}

// Updates returns the UpdateService calls accepted so far.
func (s *ECSServer) Updates() []ECSUpdate {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]ECSUpdate(nil), s.updates...)
}

const ecsTargetPrefix = "AmazonEC2ContainerServiceV20141113."

type ecsDescribeServicesInput struct {
	Cluster  string   `json:"cluster"`
	Services []string `json:"services"`
}

type ecsUpdateServiceInput struct {
	Cluster            string `json:"cluster"`
	Service            string `json:"service"`
	ForceNewDeployment bool   `json:"forceNewDeployment"`
}

type ecsDeploymentJSON struct {
	ID                 string  `json:"id"`
	Status             string  `json:"status"`
	RolloutState       string  `json:"rolloutState,omitempty"`
	RolloutStateReason string  `json:"rolloutStateReason,omitempty"`
	DesiredCount       int     `json:"desiredCount"`
	RunningCount       int     `json:"runningCount"`
	PendingCount       int     `json:"pendingCount"`
	FailedTasks        int     `json:"failedTasks"`
	CreatedAt          float64 `json:"createdAt"`
	UpdatedAt          float64 `json:"updatedAt"`
}

type ecsServiceJSON struct {
	ServiceName  string              `json:"serviceName"`
	ServiceArn   string              `json:"serviceArn"`
	ClusterArn   string              `json:"clusterArn"`
	Status       string              `json:"status"`
	DesiredCount int                 `json:"desiredCount"`
	RunningCount int                 `json:"runningCount"`
	PendingCount int                 `json:"pendingCount"`
	Deployments  []ecsDeploymentJSON `json:"deployments"`
}

type ecsFailureJSON struct {
	Arn    string `json:"arn"`
	Reason string `json:"reason"`
}

func (s *ECSServer) serve(w http.ResponseWriter, r *http.Request) {
	target := r.Header.Get("X-Amz-Target")
	op, ok := strings.CutPrefix(target, ecsTargetPrefix)
	if r.Method != http.MethodPost || !ok || !strings.HasPrefix(r.Header.Get("Content-Type"), "application/x-amz-json-1.1") {
		ecsError(w, http.StatusBadRequest, "UnknownOperationException", "not an AWS JSON 1.1 ECS request: "+target)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls++
	if s.deny {
		ecsError(w, http.StatusBadRequest, "AccessDeniedException", "User is not authorized to perform: ecs:"+op)
		return
	}
	switch op {
	case "DescribeServices":
	case "UpdateService":
		s.updateService(w, r)
		return
	default:
		ecsError(w, http.StatusBadRequest, "UnknownOperationException", "operation "+op+" is not served by this fake")
		return
	}
	var in ecsDescribeServicesInput
	if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
		ecsError(w, http.StatusBadRequest, "SerializationException", err.Error())
		return
	}
	if len(in.Services) == 0 || len(in.Services) > 10 {
		ecsError(w, http.StatusBadRequest, "InvalidParameterException", "services must name 1 to 10 services")
		return
	}
	cluster := ecsClusterName(in.Cluster)
	out := struct {
		Services []ecsServiceJSON `json:"services"`
		Failures []ecsFailureJSON `json:"failures"`
	}{Services: []ecsServiceJSON{}, Failures: []ecsFailureJSON{}}
	for _, name := range in.Services {
		name = ecsLastSegment(name)
		arn := "arn:aws:ecs:us-east-1:123456789012:service/" + cluster + "/" + name
		svc, ok := s.services[cluster+"/"+name]
		if !ok {
			out.Failures = append(out.Failures, ecsFailureJSON{Arn: arn, Reason: "MISSING"})
			continue
		}
		out.Services = append(out.Services, ecsServiceOf(svc, cluster))
	}
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	_ = json.NewEncoder(w).Encode(out)
}

func ecsServiceOf(svc ECSService, cluster string) ecsServiceJSON {
	arn := "arn:aws:ecs:us-east-1:123456789012:service/" + cluster + "/" + svc.Name
	clusterARN := "arn:aws:ecs:us-east-1:123456789012:cluster/" + cluster
	status := svc.Status
	if status == "" {
		status = "ACTIVE"
	}
	j := ecsServiceJSON{
		ServiceName: svc.Name, ServiceArn: arn, ClusterArn: clusterARN, Status: status,
		DesiredCount: svc.Desired, RunningCount: svc.Running, PendingCount: svc.Pending,
		Deployments: []ecsDeploymentJSON{},
	}
	for _, d := range svc.Deployments {
		created := float64(d.Created.UnixMilli()) / 1e3
		j.Deployments = append(j.Deployments, ecsDeploymentJSON{
			ID: d.ID, Status: d.Status, RolloutState: d.RolloutState, RolloutStateReason: d.Reason,
			DesiredCount: d.Desired, RunningCount: d.Running, PendingCount: d.Pending, FailedTasks: d.FailedTasks,
			CreatedAt: created, UpdatedAt: created,
		})
	}
	return j
}

// updateService serves UpdateService (s.mu held): forceNewDeployment
// starts a new PRIMARY deployment; anything else is refused as this fake
// does not model it.
func (s *ECSServer) updateService(w http.ResponseWriter, r *http.Request) {
	var in ecsUpdateServiceInput
	if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
		ecsError(w, http.StatusBadRequest, "SerializationException", err.Error())
		return
	}
	cluster := ecsClusterName(in.Cluster)
	name := ecsLastSegment(in.Service)
	svc, ok := s.services[cluster+"/"+name]
	if !ok {
		ecsError(w, http.StatusBadRequest, "ServiceNotFoundException", "Service not found.")
		return
	}
	if !in.ForceNewDeployment {
		ecsError(w, http.StatusBadRequest, "InvalidParameterException", "this fake serves UpdateService with forceNewDeployment only")
		return
	}
	s.updates = append(s.updates, ECSUpdate{Cluster: cluster, Service: name, ForceNewDeployment: true})
	deps := make([]ECSDeployment, 0, len(svc.Deployments)+1)
	deps = append(deps, ECSDeployment{ID: fmt.Sprintf("ecs-svc/forced-%d", len(s.updates)), Status: "PRIMARY", RolloutState: "IN_PROGRESS",
		Desired: svc.Desired, Created: time.Now()})
	for _, d := range svc.Deployments {
		if d.Status == "PRIMARY" {
			d.Status = "ACTIVE"
		}
		deps = append(deps, d)
	}
	svc.Deployments = deps
	s.services[cluster+"/"+name] = svc
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	_ = json.NewEncoder(w).Encode(map[string]any{"service": ecsServiceOf(svc, cluster)})
}

// ecsClusterName is the cluster a request names, by name or ARN, as ECS
// reads it ("default" when absent).
func ecsClusterName(c string) string {
	if c == "" {
		return "default"
	}
	return ecsLastSegment(c)
}

// ecsLastSegment is a name given by name or by ARN (…/cluster/name).
func ecsLastSegment(s string) string {
	if i := strings.LastIndexByte(s, '/'); i >= 0 {
		return s[i+1:]
	}
	return s
}

func ecsError(w http.ResponseWriter, status int, typ, msg string) {
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	w.Header().Set("X-Amzn-ErrorType", typ)
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"__type": typ, "message": msg})
}
