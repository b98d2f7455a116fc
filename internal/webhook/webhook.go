// Package webhook delivers events to HTTP endpoints that subscribe to
// them by type, signed as the Standard Webhooks specification says
// (webhook-id, webhook-timestamp and webhook-signature headers, HMAC-SHA256
// over "id.timestamp.body"), retried with exponential backoff and jitter,
// and parked as dead letters after MaxAttempts failures until redelivered
// through the API.
//
// Delivery is at least once and not ordered: a retry may arrive after a
// later event. Receivers dedupe by webhook-id (the event ID) and order by
// the event's time or the account's version in its data.
//
// Targets are checked against server-side request forgery: a webhook may
// not reach loopback, private, link-local or otherwise internal addresses,
// checked both when it is created and on every connection (so a DNS answer
// that changes later does not get through), unless the deployment allows
// private targets explicitly.
package webhook

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"strconv"
	"strings"
	"time"

	"github.com/atriumid/atrium/internal/fault"
	"github.com/atriumid/atrium/internal/outbox"
)

// Limits and defaults.
const (
	MaxURL         = 2048
	MaxTypes       = 32
	MaxAttempts    = 8 // then the delivery is dead
	secretPrefix   = "whsec_"
	deliverTimeout = 10 * time.Second
)

// States of a delivery.
const (
	Pending   = "pending"
	Delivered = "delivered"
	Dead      = "dead"
)

// Subscription is one webhook endpoint and the event types it receives.
type Subscription struct {
	ID         string
	URL        string
	Types      []string // exact types, or prefixes ending in ".*"; empty: every type
	Secret     []byte   // HMAC key (sealed when stored); shown once, on creation
	CreateTime time.Time
}

// Matches reports whether s receives events of type typ.
func (s Subscription) Matches(typ string) bool {
	if len(s.Types) == 0 {
		return true
	}
	for _, t := range s.Types {
		if t == typ || (strings.HasSuffix(t, ".*") && strings.HasPrefix(typ, t[:len(t)-1])) {
			return true
		}
	}
	return false
}

// SecretString returns a secret as receivers configure it: "whsec_" then
// base64, as Standard Webhooks libraries expect.
func SecretString(secret []byte) string {
	return secretPrefix + base64.StdEncoding.EncodeToString(secret)
}

// NewSecret returns a random 32-byte signing secret.
func NewSecret() ([]byte, error) {
	b := make([]byte, 32)
	_, err := rand.Read(b)
	return b, err
}

// Delivery is one event on its way to one subscription.
type Delivery struct {
	WebhookID   string
	EventPos    int64
	EventID     string
	EventType   string
	Payload     []byte // the CloudEvents JSON body
	State       string
	Attempts    int
	NextAttempt time.Time
	LastStatus  int    // HTTP status of the last attempt; 0 when none answered
	LastError   string // why the last attempt failed, without response bodies
	UpdateTime  time.Time
}

// NewDelivery returns the pending delivery of e to webhook id.
func NewDelivery(id string, e outbox.Record, source string, now time.Time) (Delivery, error) {
	body, err := e.JSON(source)
	if err != nil {
		return Delivery{}, err
	}
	return Delivery{WebhookID: id, EventPos: e.Pos, EventID: e.ID, EventType: e.Type, Payload: body,
		State: Pending, NextAttempt: now, UpdateTime: now}, nil
}

// Sign returns the webhook-signature header value of body sent as message
// id at time at: "v1," then the base64 HMAC-SHA256 of "id.timestamp.body".
func Sign(secret []byte, id string, at time.Time, body []byte) string {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(id + "." + strconv.FormatInt(at.Unix(), 10) + "."))
	m.Write(body)
	return "v1," + base64.StdEncoding.EncodeToString(m.Sum(nil))
}

// Backoff returns how long to wait after the given number of failed
// attempts: 5 s doubling to at most 6 h, with up to 25 % random jitter so
// that retries of many deliveries spread out.
func Backoff(attempts int, jitter func(n int64) int64) time.Duration {
	d := 5 * time.Second
	for i := 1; i < attempts && d < 6*time.Hour; i++ {
		d *= 2
	}
	d = min(d, 6*time.Hour)
	return d + time.Duration(jitter(int64(d)/4+1))
}

// ValidateTypes checks the event types of a subscription.
func ValidateTypes(types []string) error {
	const op = "webhook.ValidateTypes"
	if len(types) > MaxTypes {
		return fault.Invalidf(op, []fault.Violation{{Field: "types", Reason: "at most " + strconv.Itoa(MaxTypes)}}, "too many event types")
	}
	for i, t := range types {
		if !validType(t) {
			return fault.Invalidf(op, []fault.Violation{{Field: "types[" + strconv.Itoa(i) + "]", Reason: `an event type such as "atrium.account.created", or a prefix such as "atrium.account.*"`}}, "invalid event type")
		}
	}
	return nil
}

// validType reports whether t is an event type under "atrium." (tokens
// without wildcards or spaces) or such a prefix followed by ".*".
func validType(t string) bool {
	if len(t) > 200 {
		return false
	}
	base := strings.TrimSuffix(t, ".*")
	toks := strings.Split(base, ".")
	if toks[0] != "atrium" || (len(toks) < 2 && base == t) {
		return false
	}
	for _, tok := range toks {
		if tok == "" || strings.ContainsAny(tok, "*> \t\r\n") {
			return false
		}
	}
	return true
}
