package server

import (
	"cmp"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/nexus-compliance/nexus/pipeline"
	"github.com/nexus-compliance/nexus/pipeline/api"
	"github.com/nexus-compliance/nexus/pipeline/mapper"
)

// List limits of GET /api/v1/mappings.
const (
	DefaultListLimit = 50
	MaxListLimit     = 1000
)

// handleSubmit is the async API handler: validate, check the control and
// framework, record a PENDING job, queue it, answer 202.
func (s *Server) handleSubmit(w http.ResponseWriter, r *http.Request) {
	var req api.MappingRequest
	if !decode(w, r, &req) {
		return
	}
	req.ControlKey = strings.TrimSpace(req.ControlKey)
	req.TargetFrameworkKey = strings.TrimSpace(req.TargetFrameworkKey)
	switch {
	case req.ControlKey == "":
		badRequest(w, "control_key", "control_key is required, e.g. %s", pipeline.ExampleControlKey)
		return
	case req.TargetFrameworkKey == "":
		badRequest(w, "target_framework_key", "target_framework_key is required, e.g. %s", pipeline.ExampleFrameworkKey)
		return
	}
	if err := pipeline.ValidateControlKey(req.ControlKey); err != nil {
		badRequest(w, "control_key", "%v", err)
		return
	}
	if err := pipeline.ValidateFrameworkKey(req.TargetFrameworkKey); err != nil {
		badRequest(w, "target_framework_key", "%v", err)
		return
	}
	if !s.Ready() {
		w.Header().Set("Retry-After", "5")
		writeError(w, http.StatusServiceUnavailable, api.ErrorBody{Error: "the server is still loading; retry shortly", ErrorCode: CodeUnavailable})
		return
	}
	mreq := mapper.Request{ControlKey: req.ControlKey, FrameworkKey: req.TargetFrameworkKey, Options: mapper.Options{TargetControlIDs: req.TargetControlIDs}}
	if err := (&mapper.Mapper{Store: s.cfg.Store}).Validate(r.Context(), mreq); err != nil {
		s.validationError(w, err)
		return
	}
	now := s.cfg.Now().UTC()
	job := pipeline.Job{JobID: s.cfg.NewID(), Status: pipeline.JobPending, ControlKey: req.ControlKey, TargetFrameworkKey: req.TargetFrameworkKey,
		TargetControlIDs: req.TargetControlIDs, CreatedAt: now.Format(mapper.TimeLayout), UpdatedAt: now.Format(mapper.TimeLayout),
		TTL: now.Add(mapper.JobTTL).Unix()}

	// Under s.mu the queue only shrinks, so a free slot seen here is still
	// free when the job is sent; a full queue records no job.
	s.mu.Lock()
	switch {
	case s.stopping:
		s.mu.Unlock()
		w.Header().Set("Retry-After", "5")
		writeError(w, http.StatusServiceUnavailable, api.ErrorBody{Error: "the server is shutting down", ErrorCode: CodeUnavailable})
		return
	case len(s.queue) >= cap(s.queue):
		s.mu.Unlock()
		w.Header().Set("Retry-After", "5")
		writeError(w, http.StatusServiceUnavailable, api.ErrorBody{Error: fmt.Sprintf("the job queue is full (%d jobs waiting); retry later", cap(s.queue)), ErrorCode: CodeQueueFull})
		return
	}
	if err := s.cfg.Store.PutJob(r.Context(), job); err != nil {
		s.mu.Unlock()
		internal(w, fmt.Errorf("recording the job: %w", err))
		return
	}
	s.queue <- job.JobID
	s.mu.Unlock()

	writeJSON(w, http.StatusAccepted, api.Accepted{MappingID: job.JobID, Status: "ACCEPTED",
		StatusURL: strings.Replace(api.PathMapping, "{mappingId}", job.JobID, 1), ControlKey: job.ControlKey, TargetFrameworkKey: job.TargetFrameworkKey})
}

func (s *Server) validationError(w http.ResponseWriter, err error) {
	var (
		keyErr *pipeline.KeyError
		ctlErr *mapper.ControlNotFoundError
		fwErr  *mapper.FrameworkNotFoundError
		tgtErr *mapper.UnknownTargetsError
		noErr  *mapper.NoTargetsError
	)
	switch {
	case errors.As(err, &keyErr):
		field := "control_key"
		if keyErr.Kind == "framework key" {
			field = "target_framework_key"
		}
		badRequest(w, field, "%v", err)
	case errors.As(err, &ctlErr):
		sugg := ctlErr.Suggestions
		if len(sugg) == 0 {
			sugg = ctlErr.Frameworks
		}
		writeError(w, http.StatusNotFound, api.ErrorBody{Error: err.Error(), ErrorCode: CodeNotFound, Resource: "control", Identifier: ctlErr.Key, Suggestions: sugg})
	case errors.As(err, &fwErr):
		writeError(w, http.StatusNotFound, api.ErrorBody{Error: err.Error(), ErrorCode: CodeNotFound, Resource: "framework", Identifier: fwErr.Key, Suggestions: fwErr.Available})
	case errors.As(err, &tgtErr):
		badRequest(w, "target_control_ids", "%v", err)
	case errors.As(err, &noErr):
		badRequest(w, "target_framework_key", "%v", err)
	default:
		internal(w, err)
	}
}

// handleGetMapping serves GET /api/v1/mappings/{mappingId}, the path the
// seed gives both the status API and the mapping API: a job id answers the
// job's status; otherwise the id is read as a mapping key
// ("source|target", URL-encoded) and answers the ControlMappings record;
// neither is 404.
func (s *Server) handleGetMapping(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("mappingId")
	j, err := s.cfg.Store.Job(r.Context(), id)
	switch {
	case err == nil:
		writeJSON(w, http.StatusOK, JobStatusOf(j))
		return
	case !errors.Is(err, pipeline.ErrNotFound):
		internal(w, err)
		return
	}
	m, ok := s.findMapping(w, r, id)
	if ok {
		writeJSON(w, http.StatusOK, m)
	}
}

// JobStatusOf is the status API's body for a job: PENDING and RUNNING carry
// the timestamps, COMPLETED the result's mappings, FAILED the error.
func JobStatusOf(j pipeline.Job) api.JobStatus {
	st, err := pipeline.ParseJobStatus(string(j.Status))
	if err != nil {
		st = j.Status
	}
	out := api.JobStatus{MappingID: j.JobID, Status: string(st)}
	switch st {
	case pipeline.JobCompleted:
		out.ControlKey, out.TargetFrameworkKey = j.ControlKey, j.TargetFrameworkKey
		res := &api.JobResult{Mappings: []api.ResultMapping{}}
		for _, m := range mapper.ResultMappings(j.Mappings) {
			res.Mappings = append(res.Mappings, api.ResultMapping{TargetControlID: m.TargetControlID, TargetControlKey: m.TargetControlKey,
				SimilarityScore: m.SimilarityScore, RerankScore: m.RerankScore, Reasoning: m.Reasoning})
		}
		out.Result = res
	case pipeline.JobFailed:
		out.Error = j.ErrorMessage
		if out.Error == "" {
			out.Error = "the job failed"
		}
	default:
		out.ControlKey, out.TargetFrameworkKey = j.ControlKey, j.TargetFrameworkKey
		out.CreatedAt, out.UpdatedAt = j.CreatedAt, j.UpdatedAt
	}
	return out
}

// findMapping looks a mapping key up, answering 404 itself.
func (s *Server) findMapping(w http.ResponseWriter, r *http.Request, key string) (pipeline.Mapping, bool) {
	notFound := func() (pipeline.Mapping, bool) {
		writeError(w, http.StatusNotFound, api.ErrorBody{Error: fmt.Sprintf("no job or mapping %q", key), ErrorCode: CodeNotFound, Resource: "mapping", Identifier: key})
		return pipeline.Mapping{}, false
	}
	a, b, ok := strings.Cut(key, "|")
	if !ok || pipeline.ValidateControlKey(a) != nil || pipeline.ValidateControlKey(b) != nil {
		return notFound()
	}
	for _, src := range []string{a, b} {
		ms, err := s.cfg.Store.MappingsForControl(r.Context(), src)
		if err != nil {
			internal(w, err)
			return pipeline.Mapping{}, false
		}
		for _, m := range ms {
			if mappingKey(m) == key {
				return m, true
			}
		}
	}
	return notFound()
}

func mappingKey(m pipeline.Mapping) string {
	if m.MappingKey != "" {
		return m.MappingKey
	}
	return pipeline.MappingKey(m.ControlKey, m.MappedControlKey)
}

func (s *Server) handleUpdate(w http.ResponseWriter, r *http.Request) {
	var u api.MappingUpdate
	if !decode(w, r, &u) {
		return
	}
	if u.Status != "" {
		st, err := pipeline.ParseMappingStatus(string(u.Status))
		if err != nil {
			badRequest(w, "status", "%v", err)
			return
		}
		u.Status = st
	}
	for field, p := range map[string]*float64{"similarity_score": u.SimilarityScore, "rerank_score": u.RerankScore} {
		if p != nil && (*p < 0 || *p > 1) {
			badRequest(w, field, "%s %g is outside 0–1", field, *p)
			return
		}
	}
	s.updateMapping(w, r, func(m *pipeline.Mapping) {
		if u.Status != "" {
			m.Status = u.Status
		}
		if u.Reasoning != "" {
			m.Reasoning = u.Reasoning
		}
		if u.SimilarityScore != nil {
			m.SimilarityScore = u.SimilarityScore
		}
		if u.RerankScore != nil {
			m.RerankScore = u.RerankScore
		}
	})
}

func (s *Server) handleArchive(w http.ResponseWriter, r *http.Request) {
	s.updateMapping(w, r, func(m *pipeline.Mapping) { m.Status = pipeline.MappingArchived })
}

func (s *Server) updateMapping(w http.ResponseWriter, r *http.Request, change func(*pipeline.Mapping)) {
	m, ok := s.findMapping(w, r, r.PathValue("mappingId"))
	if !ok {
		return
	}
	change(&m)
	m.Timestamp = s.ts()
	if err := s.cfg.Store.PutMappings(r.Context(), []pipeline.Mapping{m}); err != nil {
		internal(w, err)
		return
	}
	s.invalidateMappers()
	writeJSON(w, http.StatusOK, m)
}

// batchItem is one item of POST /api/v1/batchMappings with the optional
// status (PENDING_REVIEW when absent).
type batchItem struct {
	api.MappingCreateItem
	Status string `json:"status,omitempty"`
}

func (s *Server) handleBatch(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Mappings []batchItem `json:"mappings"`
	}
	if !decode(w, r, &req) {
		return
	}
	switch n := len(req.Mappings); {
	case n == 0:
		badRequest(w, "mappings", "mappings is empty: send 1 to %d mappings", api.MaxBatchMappings)
		return
	case n > api.MaxBatchMappings:
		badRequest(w, "mappings", "%d mappings in one batch; the most is %d", n, api.MaxBatchMappings)
		return
	}
	resp := api.BatchMappingsResponse{Results: make([]api.BatchItemResult, len(req.Mappings))}
	var ok []pipeline.Mapping
	var okIdx []int
	ts := s.ts()
	for i, it := range req.Mappings {
		res := &resp.Results[i]
		res.Index = i
		m, err := s.batchMapping(r, it, ts)
		if err != nil {
			res.Status, res.Error = "FAILED", err.Error()
			continue
		}
		res.MappingKey = m.MappingKey
		ok = append(ok, m)
		okIdx = append(okIdx, i)
	}
	if len(ok) > 0 {
		if err := s.cfg.Store.PutMappings(r.Context(), ok); err != nil {
			for _, i := range okIdx {
				resp.Results[i].Status, resp.Results[i].Error = "FAILED", err.Error()
			}
		} else {
			for _, i := range okIdx {
				resp.Results[i].Status = "CREATED"
			}
			s.invalidateMappers()
		}
	}
	for _, res := range resp.Results {
		if res.Status == "CREATED" {
			resp.Created++
		} else {
			resp.Failed++
		}
	}
	status := http.StatusCreated
	if resp.Created == 0 {
		status = http.StatusOK
	}
	writeJSON(w, status, resp)
}

func (s *Server) batchMapping(r *http.Request, it batchItem, ts string) (pipeline.Mapping, error) {
	for _, k := range []struct{ field, key string }{{"source_control_key", it.SourceControlKey}, {"target_control_key", it.TargetControlKey}} {
		if err := pipeline.ValidateControlKey(k.key); err != nil {
			return pipeline.Mapping{}, fmt.Errorf("%s: %v", k.field, err)
		}
		if _, err := s.cfg.Store.Control(r.Context(), k.key); errors.Is(err, pipeline.ErrNotFound) {
			return pipeline.Mapping{}, fmt.Errorf("%s: control %q not found", k.field, k.key)
		} else if err != nil {
			return pipeline.Mapping{}, err
		}
	}
	if it.SourceControlKey == it.TargetControlKey {
		return pipeline.Mapping{}, errors.New("a control cannot map to itself")
	}
	st := pipeline.MappingPendingReview
	if it.Status != "" {
		var err error
		if st, err = pipeline.ParseMappingStatus(it.Status); err != nil {
			return pipeline.Mapping{}, fmt.Errorf("status: %v", err)
		}
	}
	key := pipeline.MappingKey(it.SourceControlKey, it.TargetControlKey)
	return pipeline.Mapping{ControlKey: it.SourceControlKey, MappedControlKey: it.TargetControlKey, MappingKey: key, ARN: pipeline.MappingARN(key),
		Status: st, SimilarityScore: it.SimilarityScore, RerankScore: it.RerankScore, Reasoning: it.Reasoning,
		CreatedBy: map[string]any{"type": "api", "service": "nexus serve"}, Timestamp: ts}, nil
}

// handleList is GET /api/v1/mappings?controlKey=&status=&limit=&nextToken=,
// ordered by mapping key; nextToken is opaque (the last key, encoded).
func (s *Server) handleList(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	limit := DefaultListLimit
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > MaxListLimit {
			badRequest(w, "limit", "limit must be a whole number from 1 to %d", MaxListLimit)
			return
		}
		limit = n
	}
	var after string
	if v := q.Get("nextToken"); v != "" {
		b, err := base64.RawURLEncoding.DecodeString(v)
		if err != nil || len(b) == 0 {
			badRequest(w, "nextToken", "invalid nextToken: pass the nextToken of the previous page unchanged")
			return
		}
		after = string(b)
	}
	var status pipeline.MappingStatus
	if v := q.Get("status"); v != "" {
		st, err := pipeline.ParseMappingStatus(v)
		if err != nil {
			badRequest(w, "status", "%v", err)
			return
		}
		status = st
	}
	ctx := r.Context()
	var all []pipeline.Mapping
	switch ck := q.Get("controlKey"); {
	case ck != "":
		if err := pipeline.ValidateControlKey(ck); err != nil {
			badRequest(w, "controlKey", "%v", err)
			return
		}
		ms, err := s.cfg.Store.MappingsForControl(ctx, ck)
		if err != nil {
			internal(w, err)
			return
		}
		for _, m := range ms {
			if status == "" || m.Status == status {
				all = append(all, m)
			}
		}
	default:
		statuses := pipeline.MappingStatuses
		if status != "" {
			statuses = []pipeline.MappingStatus{status}
		}
		for _, st := range statuses {
			ms, err := s.cfg.Store.MappingsByStatus(ctx, st)
			if err != nil {
				internal(w, err)
				return
			}
			all = append(all, ms...)
		}
	}
	slices.SortFunc(all, func(a, b pipeline.Mapping) int { return cmp.Compare(mappingKey(a), mappingKey(b)) })
	start := 0
	if after != "" {
		start, _ = slices.BinarySearchFunc(all, after, func(m pipeline.Mapping, k string) int {
			if c := cmp.Compare(mappingKey(m), k); c != 0 {
				return c
			}
			return -1 // equal keys sort before: start after them
		})
	}
	page := api.MappingPage{Mappings: []pipeline.Mapping{}}
	end := min(len(all), start+limit)
	page.Mappings = append(page.Mappings, all[start:end]...)
	if end < len(all) && end > start {
		page.NextToken = base64.RawURLEncoding.EncodeToString([]byte(mappingKey(all[end-1])))
	}
	writeJSON(w, http.StatusOK, page)
}

// handleControlMappings is GET /api/v1/controls/{controlId}/mappings:
// controlId is the full control key, URL-escaped.
func (s *Server) handleControlMappings(w http.ResponseWriter, r *http.Request) {
	ck := r.PathValue("controlId")
	if err := pipeline.ValidateControlKey(ck); err != nil {
		badRequest(w, "controlId", "%v", err)
		return
	}
	ms, err := s.cfg.Store.MappingsForControl(r.Context(), ck)
	if err != nil {
		internal(w, err)
		return
	}
	writeJSON(w, http.StatusOK, api.MappingPage{Mappings: append([]pipeline.Mapping{}, ms...)})
}
