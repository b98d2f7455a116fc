package api

import (
	"context"

	"connectrpc.com/connect"
	"encoding/json"
	atriumv1 "github.com/atriumid/atrium/gen/atrium/v1"
	"github.com/atriumid/atrium/gen/atrium/v1/atriumv1connect"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/atriumid/atrium/internal/fault"
	"github.com/atriumid/atrium/internal/outbox"
)

// EventLog reads the outbox for GET /v1/events.
type EventLog interface {
	// After returns up to limit events with positions above after, in
	// position order; fault.Unavailable when the database fails.
	After(ctx context.Context, after int64, limit int) ([]outbox.Record, error)
	// Bounds returns the first retained and the last position.
	Bounds(ctx context.Context) (first, last int64, err error)
	// Cursors returns the relays' positions.
	Cursors(ctx context.Context) ([]outbox.Cursor, error)
}

// Limits and pacing of the event routes.
const (
	maxEventPage     = 1000
	defaultEventPage = 100
	streamHeartbeat  = 15 * time.Second
)

// eventsRoutes serves the embedded event feed, the audit routes and the
// webhook routes, and EventService and AuditService over Connect. GET
// /v1/events pages through the outbox after a cursor, or, asked for
// text/event-stream, streams it as server-sent events that resume from
// Last-Event-ID. It needs no broker and works on SQLite.
func eventsRoutes(mux *http.ServeMux, c Config, opts []connect.HandlerOption) {
	auditRoutes(mux, c, opts)
	webhookRoutes(mux, c)
	if c.Events == nil {
		return
	}
	f := &eventFeed{log: c.Events, source: c.EventSource, poll: c.EventPoll, logger: c.Log, stop: c.Stop, limit: c.Streams}
	if f.source == "" {
		f.source = outbox.DefaultSource
	}
	if f.poll <= 0 {
		f.poll = 250 * time.Millisecond
	}
	mux.Handle(atriumv1connect.NewEventServiceHandler(f, opts...))
	mux.Handle("GET /v1/events", restHandler(c.Log, f.serve))
	mux.Handle("GET /v1/events:status", restHandler(c.Log, func(w http.ResponseWriter, r *http.Request) error {
		return eventStatus(w, r, c)
	}))
}

// relayJSON is one relay's progress: Lag counts the events it has not
// delivered yet.
type relayJSON struct {
	Name       string    `json:"name"`
	Cursor     string    `json:"cursor"`
	Lag        int64     `json:"lag,string"`
	Holder     string    `json:"holder"`
	LeaseUntil time.Time `json:"leaseUntil"`
	UpdateTime time.Time `json:"updateTime"`
}

// eventStatus serves GET /v1/events:status, for monitoring: the outbox's
// bounds, each relay's lag, and webhook deliveries by state (a growing
// "dead" count is failing webhooks).
func eventStatus(w http.ResponseWriter, r *http.Request, c Config) error {
	first, last, err := c.Events.Bounds(r.Context())
	if err != nil {
		return err
	}
	cursors, err := c.Events.Cursors(r.Context())
	if err != nil {
		return err
	}
	out := struct {
		FirstCursor string           `json:"firstCursor"`
		LastCursor  string           `json:"lastCursor"`
		Relays      []relayJSON      `json:"relays"`
		Webhooks    map[string]int64 `json:"webhookDeliveries,omitempty"`
	}{FirstCursor: strconv.FormatInt(first, 10), LastCursor: strconv.FormatInt(last, 10), Relays: []relayJSON{}}
	for _, cur := range cursors {
		out.Relays = append(out.Relays, relayJSON{Name: cur.Name, Cursor: strconv.FormatInt(cur.Pos, 10), Lag: max(last-cur.Pos, 0),
			Holder: cur.Holder, LeaseUntil: cur.LeaseUntil, UpdateTime: cur.UpdateTime})
	}
	if c.Webhooks != nil {
		if out.Webhooks, err = c.Webhooks.DeliveryCounts(r.Context()); err != nil {
			return err
		}
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// restHandler adapts a restFunc, writing its error.
func restHandler(log *slog.Logger, f restFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := f(w, r); err != nil {
			writeError(w, r, log, err)
		}
	})
}

type eventFeed struct {
	log    EventLog
	source string
	poll   time.Duration
	logger *slog.Logger
	stop   <-chan struct{} // nil: streams end only with their requests
	limit  *StreamLimit    // nil: streams are not counted
}

// eventPage is the JSON body of GET /v1/events.
type eventPage struct {
	Events     []outbox.CloudEvent `json:"events"`
	NextCursor string              `json:"nextCursor"`
}

func (f *eventFeed) serve(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	after, err := outbox.ParseCursor("after", q.Get("after"))
	if err != nil {
		return err
	}
	stream := strings.Contains(r.Header.Get("Accept"), "text/event-stream")
	if id := r.Header.Get("Last-Event-ID"); stream && id != "" {
		if after, err = outbox.ParseCursor("Last-Event-ID", id); err != nil {
			return err
		}
	}
	size, err := intParam(q.Get("page_size"), q.Get("pageSize"))
	if err != nil {
		return err
	}
	if stream {
		if err := f.checkRetained(r.Context(), after); err != nil {
			return err
		}
		p, _ := PrincipalFrom(r.Context())
		release, err := f.limit.acquire(p.KeyID)
		if err != nil {
			// Answered here, not returned: a storm of reconnecting
			// clients must not become a storm of error log lines.
			respondError(w, err)
			return nil
		}
		defer release()
		return f.stream(w, r, after, clampPage(size, defaultEventPage, maxEventPage))
	}
	recs, next, err := f.page(r.Context(), after, size)
	if err != nil {
		return err
	}
	page := eventPage{Events: make([]outbox.CloudEvent, 0, len(recs)), NextCursor: strconv.FormatInt(next, 10)}
	for _, e := range recs {
		page.Events = append(page.Events, e.CloudEvent(f.source))
	}
	writeJSON(w, http.StatusOK, page)
	return nil
}

// page returns up to size events after position after (size 0: the
// default), and the position that follows them.
func (f *eventFeed) page(ctx context.Context, after int64, size int32) ([]outbox.Record, int64, error) {
	if err := f.checkRetained(ctx, after); err != nil {
		return nil, 0, err
	}
	recs, err := f.log.After(ctx, after, clampPage(size, defaultEventPage, maxEventPage))
	if err != nil {
		return nil, 0, err
	}
	if len(recs) > 0 {
		after = recs[len(recs)-1].Pos
	}
	return recs, after, nil
}

// clampPage turns a requested page size into a limit: def for 0 or less,
// at most most.
func clampPage(size int32, def, most int) int {
	if size <= 0 {
		return def
	}
	return min(int(size), most)
}

// checkRetained refuses a cursor whose next events were pruned: the
// client would miss them without knowing.
func (f *eventFeed) checkRetained(ctx context.Context, after int64) error {
	if after == 0 {
		return nil
	}
	first, last, err := f.log.Bounds(ctx)
	if err != nil {
		return err
	}
	if after > last {
		return fault.Invalidf("api.events", []fault.Violation{{Field: "after", Reason: "beyond the last event"}}, "cursor is beyond the last event")
	}
	if first > 0 && after < first-1 {
		return fault.E("api.events", fault.FailedPrecondition, "the events after this cursor were pruned; start again from the beginning")
	}
	return nil
}

// stream writes server-sent events until the client goes away. Each event's
// id is its cursor, so a reconnecting EventSource resumes after the last
// event it received.
func (f *eventFeed) stream(w http.ResponseWriter, r *http.Request, after int64, limit int) error {
	rc := http.NewResponseController(w)
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	if err := rc.Flush(); err != nil {
		return nil // the response cannot stream; nothing more to say
	}
	ctx := r.Context()
	idle := time.Now()
	for {
		recs, err := f.log.After(ctx, after, limit)
		if err != nil {
			if ctx.Err() == nil {
				f.logger.WarnContext(ctx, "event stream read failed", "err", err)
			}
			return nil // headers are sent; the client reconnects with Last-Event-ID
		}
		for _, e := range recs {
			b, err := json.Marshal(e.CloudEvent(f.source))
			if err != nil {
				return nil
			}
			if _, err := w.Write([]byte("id: " + e.Cursor() + "\nevent: " + e.Type + "\ndata: " + string(b) + "\n\n")); err != nil {
				return nil
			}
			after = e.Pos
		}
		if len(recs) > 0 || time.Since(idle) >= streamHeartbeat {
			if len(recs) == 0 {
				w.Write([]byte(": keep-alive\n\n"))
			}
			if err := rc.Flush(); err != nil {
				return nil
			}
			idle = time.Now()
		}
		if len(recs) == limit {
			continue
		}
		select {
		case <-ctx.Done():
			return nil
		case <-f.stop:
			return nil
		case <-time.After(f.poll):
		}
	}
}

var _ atriumv1connect.EventServiceHandler = (*eventFeed)(nil)

// ListEvents implements EventService.
func (f *eventFeed) ListEvents(ctx context.Context, req *connect.Request[atriumv1.ListEventsRequest]) (*connect.Response[atriumv1.ListEventsResponse], error) {
	after, err := outbox.ParseCursor("after", req.Msg.After)
	if err != nil {
		return nil, err
	}
	recs, next, err := f.page(ctx, after, req.Msg.PageSize)
	if err != nil {
		return nil, err
	}
	out := &atriumv1.ListEventsResponse{Events: make([]*atriumv1.Event, 0, len(recs)), NextCursor: strconv.FormatInt(next, 10)}
	for _, e := range recs {
		data, err := jsonStruct("api.ListEvents", e.Data)
		if err != nil {
			return nil, err
		}
		out.Events = append(out.Events, &atriumv1.Event{Id: e.ID, Source: f.source, Type: e.Type, Subject: e.Subject,
			Time: timestamp(e.Time), Data: data, Cursor: e.Cursor()})
	}
	return connect.NewResponse(out), nil
}
