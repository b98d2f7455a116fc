package api

import (
	"context"
	"crypto/ed25519"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"strconv"
	"time"

	"connectrpc.com/connect"
	atriumv1 "github.com/atriumid/atrium/gen/atrium/v1"
	"github.com/atriumid/atrium/gen/atrium/v1/atriumv1connect"
	"github.com/atriumid/atrium/internal/audit"
	"github.com/atriumid/atrium/internal/fault"
	"github.com/atriumid/atrium/internal/outbox"
)

// AuditLog reads the audit chain for GET /v1/audit.
type AuditLog interface {
	audit.Reader
	// Records returns up to q.Limit records matching q, in Seq order;
	// fault.Unavailable when the database fails.
	Records(ctx context.Context, q audit.Query) ([]audit.Record, error)
}

const (
	maxAuditPage     = 1000
	defaultAuditPage = 100
)

// auditRoutes serves GET /v1/audit (records filtered by account, actor,
// type and time) and GET /v1/audit:verify (the whole chain checked).
func auditRoutes(mux *http.ServeMux, c Config, opts []connect.HandlerOption) {
	if c.Audit == nil {
		return
	}
	mux.Handle(atriumv1connect.NewAuditServiceHandler(&auditHandler{log: c.Audit, key: c.AuditKey}, opts...))
	mux.Handle("GET /v1/audit", restHandler(c.Log, func(w http.ResponseWriter, r *http.Request) error {
		q, err := auditQuery(r)
		if err != nil {
			return err
		}
		recs, err := c.Audit.Records(r.Context(), q)
		if err != nil {
			return err
		}
		page := auditPage{Records: make([]auditRecord, 0, len(recs))}
		for _, rec := range recs {
			page.Records = append(page.Records, auditJSON(rec))
		}
		if len(recs) == q.Limit {
			page.NextPageToken = strconv.FormatInt(recs[len(recs)-1].Seq, 10)
		}
		writeJSON(w, http.StatusOK, page)
		return nil
	}))
	mux.Handle("GET /v1/audit:verify", restHandler(c.Log, func(w http.ResponseWriter, r *http.Request) error {
		rep, err := audit.Verify(r.Context(), c.Audit, c.AuditKey)
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, verifyJSON(rep, c.AuditKey))
		return nil
	}))
}

// auditQuery reads the filters of GET /v1/audit: account, actor, type,
// since and until (RFC 3339), page_size and page_token.
func auditQuery(r *http.Request) (audit.Query, error) {
	v := r.URL.Query()
	q := audit.Query{Account: v.Get("account"), Actor: v.Get("actor"), Type: v.Get("type")}
	var vs []fault.Violation
	for _, p := range []struct {
		name string
		dst  *time.Time
	}{{"since", &q.Since}, {"until", &q.Until}} {
		if s := v.Get(p.name); s != "" {
			t, err := time.Parse(time.RFC3339Nano, s)
			if err != nil {
				vs = append(vs, fault.Violation{Field: p.name, Reason: "not an RFC 3339 time"})
			}
			*p.dst = t
		}
	}
	size, err := intParam(v.Get("page_size"), v.Get("pageSize"))
	if err != nil {
		vs = append(vs, fault.Violation{Field: "page_size", Reason: "not an integer"})
	}
	return finishQuery(q, size, first(v.Get("page_token"), v.Get("pageToken")), vs)
}

// finishQuery adds the page to q and checks its filters, reporting every
// problem, vs included, at once.
func finishQuery(q audit.Query, size int32, token string, vs []fault.Violation) (audit.Query, error) {
	after, err := outbox.ParseCursor("page_token", token)
	if err != nil {
		vs = append(vs, fault.Violation{Field: "page_token", Reason: "not a token returned by Atrium"})
	}
	q.After, q.Limit = after, clampPage(size, defaultAuditPage, maxAuditPage)
	for _, s := range []string{q.Account, q.Actor, q.Type} {
		if len(s) > 200 {
			vs = append(vs, fault.Violation{Field: "query", Reason: "longer than 200 bytes"})
		}
	}
	if len(vs) > 0 {
		return q, fault.Invalidf("api.auditQuery", vs, "malformed audit query")
	}
	return q, nil
}

type auditPage struct {
	Records       []auditRecord `json:"records"`
	NextPageToken string        `json:"nextPageToken,omitempty"`
}

// auditRecord is the JSON form of a record. IP and user agent are absent
// once forgotten.
type auditRecord struct {
	Seq       int64           `json:"seq,string"`
	ID        string          `json:"id"`
	Time      time.Time       `json:"time"`
	Type      string          `json:"type"`
	Account   string          `json:"account"`
	Actor     string          `json:"actor"`
	RequestID string          `json:"requestId,omitempty"`
	IP        string          `json:"ip,omitempty"`
	UserAgent string          `json:"userAgent,omitempty"`
	Data      json.RawMessage `json:"data"`
	PrevHash  string          `json:"prevHash"`
	Hash      string          `json:"hash"`
}

func auditJSON(r audit.Record) auditRecord {
	data := json.RawMessage(r.Data)
	if !json.Valid(data) {
		data = json.RawMessage("null")
	}
	return auditRecord{Seq: r.Seq, ID: r.ID, Time: r.Time, Type: r.Type, Account: r.Account, Actor: r.Actor, RequestID: r.RequestID,
		IP: r.IP, UserAgent: r.UserAgent, Data: data, PrevHash: hex.EncodeToString(r.PrevHash), Hash: hex.EncodeToString(r.Hash)}
}

// verifyReport is the JSON form of a verification.
type verifyReport struct {
	OK          bool       `json:"ok"`
	Records     int64      `json:"records,string"`
	Checkpoints int        `json:"checkpoints"`
	KeyID       string     `json:"keyId,omitempty"`
	FirstBad    *badRecord `json:"firstBad,omitempty"`
}

type badRecord struct {
	Seq    int64  `json:"seq,string"`
	Reason string `json:"reason"`
}

func verifyJSON(rep audit.Report, pub ed25519.PublicKey) verifyReport {
	out := verifyReport{OK: rep.Problem == nil, Records: rep.Records, Checkpoints: rep.Checkpoints}
	if pub != nil {
		out.KeyID = audit.KeyID(pub)
	}
	if p := rep.Problem; p != nil {
		out.FirstBad = &badRecord{Seq: p.Seq, Reason: p.Reason}
	}
	return out
}

// auditHandler serves AuditService.
type auditHandler struct {
	log AuditLog
	key ed25519.PublicKey
}

var _ atriumv1connect.AuditServiceHandler = (*auditHandler)(nil)

// ListAuditRecords implements AuditService.
func (h *auditHandler) ListAuditRecords(ctx context.Context, req *connect.Request[atriumv1.ListAuditRecordsRequest]) (*connect.Response[atriumv1.ListAuditRecordsResponse], error) {
	m := req.Msg
	q := audit.Query{Account: m.Account, Actor: m.Actor, Type: m.Type}
	if m.Since != nil {
		q.Since = m.Since.AsTime()
	}
	if m.Until != nil {
		q.Until = m.Until.AsTime()
	}
	q, err := finishQuery(q, m.PageSize, m.PageToken, nil)
	if err != nil {
		return nil, err
	}
	recs, err := h.log.Records(ctx, q)
	if err != nil {
		return nil, err
	}
	out := &atriumv1.ListAuditRecordsResponse{Records: make([]*atriumv1.AuditRecord, 0, len(recs))}
	for _, r := range recs {
		data, err := jsonStruct("api.ListAuditRecords", r.Data)
		if err != nil {
			return nil, err
		}
		out.Records = append(out.Records, &atriumv1.AuditRecord{Seq: r.Seq, Id: r.ID, Time: timestamp(r.Time), Type: r.Type,
			Account: r.Account, Actor: r.Actor, RequestId: r.RequestID, Ip: r.IP, UserAgent: r.UserAgent, Data: data,
			PrevHash: hex.EncodeToString(r.PrevHash), Hash: hex.EncodeToString(r.Hash)})
	}
	if len(recs) == q.Limit {
		out.NextPageToken = strconv.FormatInt(recs[len(recs)-1].Seq, 10)
	}
	return connect.NewResponse(out), nil
}

// VerifyAudit implements AuditService.
func (h *auditHandler) VerifyAudit(ctx context.Context, _ *connect.Request[atriumv1.VerifyAuditRequest]) (*connect.Response[atriumv1.VerifyAuditResponse], error) {
	rep, err := audit.Verify(ctx, h.log, h.key)
	if err != nil {
		return nil, err
	}
	v := verifyJSON(rep, h.key)
	out := &atriumv1.VerifyAuditResponse{Ok: v.OK, Records: v.Records, Checkpoints: int32(v.Checkpoints), KeyId: v.KeyID}
	if v.FirstBad != nil {
		out.FirstBadSeq, out.FirstBadReason = v.FirstBad.Seq, v.FirstBad.Reason
	}
	return connect.NewResponse(out), nil
}
