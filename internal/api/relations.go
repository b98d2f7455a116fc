package api

import (
	"context"
	"encoding/base64"
	"log/slog"
	"net/http"
	"strings"

	"connectrpc.com/connect"
	atriumv1 "github.com/atriumid/atrium/gen/atrium/v1"
	"github.com/atriumid/atrium/gen/atrium/v1/atriumv1connect"
	"github.com/atriumid/atrium/internal/authz"
	"github.com/atriumid/atrium/internal/fault"
	"github.com/atriumid/atrium/internal/relation"
	"google.golang.org/protobuf/proto"
)

// relationHandler serves RelationService.
type relationHandler struct {
	svc *authz.Service
}

var _ atriumv1connect.RelationServiceHandler = (*relationHandler)(nil)

// relationRoutes registers the REST mapping of RelationService.
func relationRoutes(mux *http.ServeMux, log *slog.Logger, h *relationHandler) {
	post := func(path string, newMsg func() proto.Message, serve func(w http.ResponseWriter, r *http.Request, msg proto.Message) error) {
		mux.Handle("POST "+path, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			msg := newMsg()
			err := readMessage(r, msg)
			if err == nil {
				err = serve(w, r, msg)
			}
			if err != nil {
				writeError(w, r, log, err)
			}
		}))
	}
	post("/v1/relationships:write", func() proto.Message { return &atriumv1.WriteRelationshipsRequest{} }, func(w http.ResponseWriter, r *http.Request, m proto.Message) error {
		return call(w, r, http.StatusOK, h.WriteRelationships, m.(*atriumv1.WriteRelationshipsRequest))
	})
	post("/v1/relationships:read", func() proto.Message { return &atriumv1.ReadRelationshipsRequest{} }, func(w http.ResponseWriter, r *http.Request, m proto.Message) error {
		return call(w, r, http.StatusOK, h.ReadRelationships, m.(*atriumv1.ReadRelationshipsRequest))
	})
	post("/v1/check", func() proto.Message { return &atriumv1.CheckRequest{} }, func(w http.ResponseWriter, r *http.Request, m proto.Message) error {
		msg := m.(*atriumv1.CheckRequest)
		if msg.FreshnessToken == "" {
			msg.FreshnessToken = r.Header.Get(freshnessHeader)
		}
		return call(w, r, http.StatusOK, h.Check, msg)
	})
	post("/v1/check:batch", func() proto.Message { return &atriumv1.BatchCheckRequest{} }, func(w http.ResponseWriter, r *http.Request, m proto.Message) error {
		return call(w, r, http.StatusOK, h.BatchCheck, m.(*atriumv1.BatchCheckRequest))
	})
	post("/v1/list-objects", func() proto.Message { return &atriumv1.ListObjectsRequest{} }, func(w http.ResponseWriter, r *http.Request, m proto.Message) error {
		return call(w, r, http.StatusOK, h.ListObjects, m.(*atriumv1.ListObjectsRequest))
	})
	post("/v1/list-subjects", func() proto.Message { return &atriumv1.ListSubjectsRequest{} }, func(w http.ResponseWriter, r *http.Request, m proto.Message) error {
		return call(w, r, http.StatusOK, h.ListSubjects, m.(*atriumv1.ListSubjectsRequest))
	})
	post("/v1/expand", func() proto.Message { return &atriumv1.ExpandRequest{} }, func(w http.ResponseWriter, r *http.Request, m proto.Message) error {
		return call(w, r, http.StatusOK, h.Expand, m.(*atriumv1.ExpandRequest))
	})
}

// rawTuples turns API tuples into (object, relation, subject) triples.
func rawTuples(ts []*atriumv1.Tuple) [][3]string {
	out := make([][3]string, len(ts))
	for i, t := range ts {
		out[i] = [3]string{t.GetObject(), t.GetRelation(), t.GetSubject()}
	}
	return out
}

func tupleToProto(t relation.Tuple) *atriumv1.Tuple {
	return &atriumv1.Tuple{Object: t.Object.String(), Relation: t.Relation, Subject: t.Subject.String()}
}

// onConflict parses an on_duplicate or on_missing option.
func onConflict(field, v string) (bool, error) {
	switch v {
	case "", "error":
		return false, nil
	case "ignore":
		return true, nil
	}
	return false, fault.Invalidf("api.relationships", []fault.Violation{{Field: field, Reason: `must be "error" or "ignore"`}}, "bad %s", field)
}

func (h *relationHandler) WriteRelationships(ctx context.Context, req *connect.Request[atriumv1.WriteRelationshipsRequest]) (*connect.Response[atriumv1.WriteRelationshipsResponse], error) {
	m := req.Msg
	var w authz.Write
	var err error
	if w.IgnoreDuplicates, err = onConflict("on_duplicate", m.OnDuplicate); err != nil {
		return nil, err
	}
	if w.IgnoreMissing, err = onConflict("on_missing", m.OnMissing); err != nil {
		return nil, err
	}
	if w.Writes, err = h.svc.ParseTuples("writes", rawTuples(m.Writes)); err != nil {
		return nil, err
	}
	if w.Deletes, err = h.svc.ParseTuples("deletes", rawTuples(m.Deletes)); err != nil {
		return nil, err
	}
	token, rev, err := h.svc.Write(ctx, w)
	if err != nil {
		return nil, err
	}
	return respond(&atriumv1.WriteRelationshipsResponse{FreshnessToken: token, Revision: rev}, token, -1), nil
}

// encodeKey makes the page token of the key a page ended at.
func encodeKey(k string) string { return base64.RawURLEncoding.EncodeToString([]byte(k)) }

// decodeKey is the inverse of encodeKey.
func decodeKey(tok string) (string, error) {
	b, err := base64.RawURLEncoding.DecodeString(tok)
	if err != nil || len(tok) > 2048 {
		return "", fault.Invalidf("api.pageToken", []fault.Violation{{Field: "page_token", Reason: "malformed"}}, "bad page token")
	}
	return string(b), nil
}

func (h *relationHandler) ReadRelationships(ctx context.Context, req *connect.Request[atriumv1.ReadRelationshipsRequest]) (*connect.Response[atriumv1.ReadRelationshipsResponse], error) {
	const op = "api.ReadRelationships"
	m := req.Msg
	typ, id, ok := strings.Cut(m.Object, ":")
	if !ok || typ == "" {
		return nil, fault.Invalidf(op, []fault.Violation{{Field: "object", Reason: `must be "type:id" or "type:"`}}, "bad object")
	}
	if id != "" {
		if _, err := relation.ParseObject(m.Object); err != nil {
			return nil, err
		}
	}
	f := authz.Filter{ObjectType: typ, ObjectID: id, Relation: m.Relation, Limit: int(m.PageSize)}
	if m.Subject != "" {
		s, err := relation.ParseSubject(m.Subject)
		if err != nil {
			return nil, err
		}
		f.Subject = &s
	}
	if m.PageToken != "" {
		k, err := decodeKey(m.PageToken)
		if err != nil {
			return nil, err
		}
		t, err := relation.ParseTuple(k)
		if err != nil {
			return nil, fault.Invalidf(op, []fault.Violation{{Field: "page_token", Reason: "malformed"}}, "bad page token")
		}
		f.After = &t
	}
	if f.Limit <= 0 || f.Limit > authz.MaxPageSize {
		f.Limit = authz.DefaultPageSize
	}
	want := f.Limit
	f.Limit++
	ts, rev, err := h.svc.Read(ctx, f, m.FreshnessToken)
	if err != nil {
		return nil, err
	}
	out := &atriumv1.ReadRelationshipsResponse{Revision: rev}
	if len(ts) > want {
		ts = ts[:want]
		out.NextPageToken = encodeKey(ts[want-1].String())
	}
	for _, t := range ts {
		out.Relationships = append(out.Relationships, tupleToProto(t))
	}
	return respond(out, "", -1), nil
}

// checkRequest parses one check.
func (h *relationHandler) checkRequest(m *atriumv1.CheckRequest) (relation.CheckRequest, error) {
	var req relation.CheckRequest
	var err error
	if req.Subject, err = relation.ParseSubject(m.Subject); err != nil {
		return req, fieldError("subject", err)
	}
	if req.Object, err = relation.ParseObject(m.Object); err != nil {
		return req, fieldError("object", err)
	}
	req.Relation = m.Relation
	req.Contextual, err = h.svc.ParseTuples("contextual_tuples", rawTuples(m.ContextualTuples))
	return req, err
}

// fieldError names the request field a parse error is about.
func fieldError(field string, err error) error {
	msg, _ := fault.PublicOf(err)
	return &fault.Error{Op: "api", Kind: fault.KindOf(err), Msg: msg, Violations: []fault.Violation{{Field: field, Reason: msg}}, Err: err}
}

func (h *relationHandler) Check(ctx context.Context, req *connect.Request[atriumv1.CheckRequest]) (*connect.Response[atriumv1.CheckResponse], error) {
	cr, err := h.checkRequest(req.Msg)
	if err != nil {
		return nil, err
	}
	allowed, rev, err := h.svc.Check(ctx, cr, req.Msg.FreshnessToken)
	if err != nil {
		return nil, err
	}
	return respond(&atriumv1.CheckResponse{Allowed: allowed, Revision: rev, FreshnessToken: h.svc.Token(rev)}, "", -1), nil
}

func (h *relationHandler) BatchCheck(ctx context.Context, req *connect.Request[atriumv1.BatchCheckRequest]) (*connect.Response[atriumv1.BatchCheckResponse], error) {
	reqs := make([]relation.CheckRequest, len(req.Msg.Checks))
	out := &atriumv1.BatchCheckResponse{Results: make([]*atriumv1.BatchCheckResult, len(reqs))}
	var valid []relation.CheckRequest
	var idx []int
	for i, c := range req.Msg.Checks {
		cr, err := h.checkRequest(c)
		if err != nil {
			msg, _ := fault.PublicOf(err)
			out.Results[i] = &atriumv1.BatchCheckResult{Error: msg}
			continue
		}
		reqs[i] = cr
		valid, idx = append(valid, cr), append(idx, i)
	}
	res, rev, err := h.svc.BatchCheck(ctx, valid, req.Msg.FreshnessToken)
	if err != nil {
		return nil, err
	}
	for j, r := range res {
		br := &atriumv1.BatchCheckResult{Allowed: r.Allowed}
		if r.Err != nil {
			br.Error, _ = fault.PublicOf(r.Err)
		}
		out.Results[idx[j]] = br
	}
	out.Revision, out.FreshnessToken = rev, h.svc.Token(rev)
	return respond(out, "", -1), nil
}

// listInputs parses the contextual tuples and page token of a list request.
func (h *relationHandler) listInputs(contextual []*atriumv1.Tuple, pageToken string) ([]relation.Tuple, string, error) {
	ts, err := h.svc.ParseTuples("contextual_tuples", rawTuples(contextual))
	if err != nil || pageToken == "" {
		return ts, "", err
	}
	after, err := decodeKey(pageToken)
	return ts, after, err
}

func (h *relationHandler) ListObjects(ctx context.Context, req *connect.Request[atriumv1.ListObjectsRequest]) (*connect.Response[atriumv1.ListObjectsResponse], error) {
	m := req.Msg
	subject, err := relation.ParseSubject(m.Subject)
	if err != nil {
		return nil, fieldError("subject", err)
	}
	contextual, after, err := h.listInputs(m.ContextualTuples, m.PageToken)
	if err != nil {
		return nil, err
	}
	ids, more, rev, err := h.svc.ListObjects(ctx, relation.ListObjectsRequest{Type: m.Type, Relation: m.Relation, Subject: subject, Contextual: contextual},
		m.FreshnessToken, after, int(m.PageSize))
	if err != nil {
		return nil, err
	}
	out := &atriumv1.ListObjectsResponse{Revision: rev}
	for _, id := range ids {
		out.Objects = append(out.Objects, m.Type+":"+id)
	}
	if more {
		out.NextPageToken = encodeKey(ids[len(ids)-1])
	}
	return respond(out, "", -1), nil
}

func (h *relationHandler) ListSubjects(ctx context.Context, req *connect.Request[atriumv1.ListSubjectsRequest]) (*connect.Response[atriumv1.ListSubjectsResponse], error) {
	m := req.Msg
	object, err := relation.ParseObject(m.Object)
	if err != nil {
		return nil, fieldError("object", err)
	}
	filter, err := relation.ParseSubjectType(m.SubjectType)
	if err != nil {
		return nil, fieldError("subject_type", err)
	}
	contextual, after, err := h.listInputs(m.ContextualTuples, m.PageToken)
	if err != nil {
		return nil, err
	}
	subs, more, rev, err := h.svc.ListSubjects(ctx, relation.ListSubjectsRequest{Object: object, Relation: m.Relation, Filter: filter, Contextual: contextual},
		m.FreshnessToken, after, int(m.PageSize))
	if err != nil {
		return nil, err
	}
	out := &atriumv1.ListSubjectsResponse{Revision: rev}
	for _, s := range subs {
		out.Subjects = append(out.Subjects, s.String())
	}
	if more {
		out.NextPageToken = encodeKey(subs[len(subs)-1].String())
	}
	return respond(out, "", -1), nil
}

func (h *relationHandler) Expand(ctx context.Context, req *connect.Request[atriumv1.ExpandRequest]) (*connect.Response[atriumv1.ExpandResponse], error) {
	object, err := relation.ParseObject(req.Msg.Object)
	if err != nil {
		return nil, fieldError("object", err)
	}
	contextual, err := h.svc.ParseTuples("contextual_tuples", rawTuples(req.Msg.ContextualTuples))
	if err != nil {
		return nil, err
	}
	tree, rev, err := h.svc.Expand(ctx, relation.ExpandRequest{Object: object, Relation: req.Msg.Relation, Contextual: contextual}, req.Msg.FreshnessToken)
	if err != nil {
		return nil, err
	}
	return respond(&atriumv1.ExpandResponse{Tree: treeToProto(tree), Revision: rev}, "", -1), nil
}

var opNames = map[relation.Op]string{
	relation.OpDirect: "direct", relation.OpComputed: "computed", relation.OpTupleToUser: "tuple_to_userset",
	relation.OpUnion: "union", relation.OpIntersection: "intersection", relation.OpExclusion: "exclusion",
}

func treeToProto(t *relation.Tree) *atriumv1.UsersetTree {
	if t == nil {
		return nil
	}
	out := &atriumv1.UsersetTree{Operation: opNames[t.Op], Object: t.Object.String(), Relation: t.Relation}
	for _, s := range t.Subjects {
		out.Subjects = append(out.Subjects, s.String())
	}
	for _, c := range t.Children {
		out.Children = append(out.Children, treeToProto(c))
	}
	return out
}
