package api

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/atriumid/atrium/internal/audit"
	"github.com/atriumid/atrium/internal/fault"
	"github.com/atriumid/atrium/internal/ids"
	"github.com/atriumid/atrium/internal/outbox"
	"github.com/atriumid/atrium/internal/webhook"
)

// WebhookStore keeps webhook subscriptions and deliveries. Methods return
// fault.NotFound for an unknown webhook or delivery and fault.Unavailable
// when the database fails.
type WebhookStore interface {
	// CreateWebhook stores a new subscription and its audit record.
	CreateWebhook(ctx context.Context, w webhook.Subscription, e audit.Entry) error
	// DeleteWebhook ends a live subscription and appends its audit record.
	DeleteWebhook(ctx context.Context, id string, now time.Time, e audit.Entry) error
	// Webhooks returns the live subscriptions.
	Webhooks(ctx context.Context) ([]webhook.Subscription, error)
	// Webhook returns one live subscription.
	Webhook(ctx context.Context, id string) (webhook.Subscription, error)
	// Deliveries pages through a subscription's deliveries by event
	// position, in one state when state is not empty.
	Deliveries(ctx context.Context, id, state string, after int64, limit int) ([]webhook.Delivery, error)
	// Redeliver makes a delivery pending again, due at now, and appends
	// its audit record.
	Redeliver(ctx context.Context, id string, pos int64, now time.Time, e audit.Entry) error
	// DeliveryCounts returns how many deliveries are in each state.
	DeliveryCounts(ctx context.Context) (map[string]int64, error)
}

// webhookRoutes serves the webhook subscriptions and their deliveries.
func webhookRoutes(mux *http.ServeMux, c Config) {
	if c.Webhooks == nil {
		return
	}
	h := &webhookHandler{store: c.Webhooks, guard: c.WebhookGuard, secrets: c.WebhookSecrets, now: c.Now}
	mux.Handle("POST /v1/webhooks", restHandler(c.Log, h.create))
	mux.Handle("GET /v1/webhooks", restHandler(c.Log, h.list))
	mux.Handle("DELETE /v1/webhooks/{id}", restHandler(c.Log, h.delete))
	mux.Handle("GET /v1/webhooks/{id}/deliveries", restHandler(c.Log, h.deliveries))
	mux.Handle("POST /v1/webhooks/{id}/deliveries/{posAction}", restHandler(c.Log, h.redeliver))
}

type webhookHandler struct {
	store   WebhookStore
	guard   webhook.Guard
	secrets *webhook.Sealer // nil: secrets stored in the clear
	now     func() time.Time
}

// webhookAudit returns the audit record of a change to webhook id, of type
// "atrium.webhook."+what, by the actor in ctx.
//
// Subscriptions are the deployment's configuration, not account state, so
// their changes are audited but raise no events (an event of a new
// subscription would also be delivered to that subscription).
func webhookAudit(ctx context.Context, what, id string, now time.Time, data map[string]any) audit.Entry {
	if data == nil {
		data = map[string]any{}
	}
	b, _ := json.Marshal(data) // strings only
	return audit.Entry{ID: ids.New("aud"), Type: "atrium.webhook." + what, Account: "webhook:" + id, Time: now, Data: b, Actor: audit.ActorFrom(ctx)}
}

// webhookJSON is a subscription as the API shows it; the secret appears
// only in the answer to its creation.
type webhookJSON struct {
	ID         string    `json:"id"`
	URL        string    `json:"url"`
	Types      []string  `json:"types"`
	CreateTime time.Time `json:"createTime"`
	Secret     string    `json:"secret,omitempty"`
}

func toWebhookJSON(w webhook.Subscription) webhookJSON {
	types := w.Types
	if types == nil {
		types = []string{}
	}
	return webhookJSON{ID: w.ID, URL: w.URL, Types: types, CreateTime: w.CreateTime}
}

func (h *webhookHandler) create(w http.ResponseWriter, r *http.Request) error {
	const op = "api.createWebhook"
	b, err := readBody(r)
	if err != nil {
		return err
	}
	var req struct {
		URL   string   `json:"url"`
		Types []string `json:"types"`
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		return fault.Invalidf(op, []fault.Violation{{Field: "body", Reason: "must be {\"url\": …, \"types\": […]}"}}, "malformed request body")
	}
	u, err := h.guard.CheckURL(r.Context(), "url", req.URL)
	if err != nil {
		return err
	}
	if err := webhook.ValidateTypes(req.Types); err != nil {
		return err
	}
	secret, err := webhook.NewSecret()
	if err != nil {
		return fault.Wrap(op, fault.Internal, err)
	}
	sub := webhook.Subscription{ID: ids.New("whk"), URL: u.String(), Types: req.Types, Secret: secret, CreateTime: h.now().UTC().Truncate(time.Microsecond)}
	if h.secrets != nil {
		if sub.Secret, err = h.secrets.Seal(sub.ID, secret); err != nil {
			return err
		}
	}
	host := u.Hostname() // the URL's path and query may hold a token of the receiver's
	if err := h.store.CreateWebhook(r.Context(), sub, webhookAudit(r.Context(), "created", sub.ID, sub.CreateTime,
		map[string]any{"host": host, "types": sub.Types})); err != nil {
		return err
	}
	out := toWebhookJSON(sub)
	out.Secret = webhook.SecretString(secret)
	writeJSON(w, http.StatusCreated, out)
	return nil
}

func (h *webhookHandler) list(w http.ResponseWriter, r *http.Request) error {
	subs, err := h.store.Webhooks(r.Context())
	if err != nil {
		return err
	}
	out := struct {
		Webhooks []webhookJSON `json:"webhooks"`
	}{Webhooks: []webhookJSON{}}
	for _, s := range subs {
		out.Webhooks = append(out.Webhooks, toWebhookJSON(s))
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (h *webhookHandler) delete(w http.ResponseWriter, r *http.Request) error {
	id, now := r.PathValue("id"), h.now().UTC().Truncate(time.Microsecond)
	if err := h.store.DeleteWebhook(r.Context(), id, now, webhookAudit(r.Context(), "deleted", id, now, nil)); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, struct{}{})
	return nil
}

// deliveryJSON is a delivery as the API shows it, without its payload.
type deliveryJSON struct {
	EventCursor string    `json:"eventCursor"`
	EventID     string    `json:"eventId"`
	EventType   string    `json:"eventType"`
	State       string    `json:"state"`
	Attempts    int       `json:"attempts"`
	NextAttempt time.Time `json:"nextAttemptTime"`
	LastStatus  int       `json:"lastStatus,omitempty"`
	LastError   string    `json:"lastError,omitempty"`
	UpdateTime  time.Time `json:"updateTime"`
}

func (h *webhookHandler) deliveries(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	id := r.PathValue("id")
	if _, err := h.store.Webhook(r.Context(), id); err != nil {
		return err
	}
	state := q.Get("state")
	switch state {
	case "", webhook.Pending, webhook.Delivered, webhook.Dead:
	default:
		return fault.Invalidf("api.deliveries", []fault.Violation{{Field: "state", Reason: "pending, delivered or dead"}}, "unknown delivery state")
	}
	after, err := outbox.ParseCursor("page_token", first(q.Get("page_token"), q.Get("pageToken")))
	if err != nil {
		return err
	}
	size, err := intParam(q.Get("page_size"), q.Get("pageSize"))
	if err != nil {
		return err
	}
	limit := min(max(int(size), 0), maxEventPage)
	if limit == 0 {
		limit = defaultEventPage
	}
	ds, err := h.store.Deliveries(r.Context(), id, state, after, limit)
	if err != nil {
		return err
	}
	out := struct {
		Deliveries    []deliveryJSON `json:"deliveries"`
		NextPageToken string         `json:"nextPageToken,omitempty"`
	}{Deliveries: []deliveryJSON{}}
	for _, d := range ds {
		out.Deliveries = append(out.Deliveries, deliveryJSON{EventCursor: strconv.FormatInt(d.EventPos, 10), EventID: d.EventID, EventType: d.EventType,
			State: d.State, Attempts: d.Attempts, NextAttempt: d.NextAttempt, LastStatus: d.LastStatus, LastError: d.LastError, UpdateTime: d.UpdateTime})
	}
	if len(ds) == limit {
		out.NextPageToken = strconv.FormatInt(ds[len(ds)-1].EventPos, 10)
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// redeliver serves POST /v1/webhooks/{id}/deliveries/{cursor}:redeliver.
func (h *webhookHandler) redeliver(w http.ResponseWriter, r *http.Request) error {
	cursor, action, _ := strings.Cut(r.PathValue("posAction"), ":")
	if action != "redeliver" {
		return fault.E("api.redeliver", fault.NotFound, "no such method: POST %s", r.URL.Path)
	}
	pos, err := outbox.ParseCursor("eventCursor", cursor)
	if err != nil {
		return err
	}
	id, now := r.PathValue("id"), h.now().UTC().Truncate(time.Microsecond)
	e := webhookAudit(r.Context(), "redelivered", id, now, map[string]any{"eventCursor": strconv.FormatInt(pos, 10)})
	if err := h.store.Redeliver(r.Context(), id, pos, now, e); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, struct{}{})
	return nil
}
