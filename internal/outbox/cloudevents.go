package outbox

import (
	"encoding/json"
	"strconv"
	"time"

	"github.com/atriumid/atrium/internal/fault"
)

// Record is an event as stored, with its position in the outbox.
// Positions are handed out in commit order without gaps, so a reader that
// has seen every position up to N and then reads positions above N never
// misses a committed event; pruning removes only a prefix.
type Record struct {
	Pos int64
	Event
}

// Cursor returns the opaque cursor that resumes reading after r.
func (r Record) Cursor() string { return strconv.FormatInt(r.Pos, 10) }

// ParseCursor returns the position named by a cursor or a position-valued
// page token, reported under field; "" is the start. Only the decimal
// digits that Cursor writes are accepted; anything else is fault.Invalid.
func ParseCursor(field, s string) (int64, error) {
	if s == "" {
		return 0, nil
	}
	digits := len(s) <= 19
	for i := 0; i < len(s); i++ {
		digits = digits && s[i] >= '0' && s[i] <= '9'
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if !digits || err != nil {
		return 0, fault.Invalidf("outbox.ParseCursor", []fault.Violation{{Field: field, Reason: "not a cursor returned by Atrium"}}, "malformed cursor")
	}
	return n, nil
}

// CloudEvent is the CloudEvents 1.0 JSON form of an event (structured
// content mode), the form every delivery carries.
type CloudEvent struct {
	SpecVersion     string          `json:"specversion"`
	ID              string          `json:"id"`
	Source          string          `json:"source"`
	Type            string          `json:"type"`
	Subject         string          `json:"subject"`
	Time            string          `json:"time"`
	DataContentType string          `json:"datacontenttype"`
	Data            json.RawMessage `json:"data"`
}

// DefaultSource is the CloudEvents source of events when none is
// configured.
const DefaultSource = "/atrium"

// CloudEvent returns e in CloudEvents 1.0 form, from source.
func (e Event) CloudEvent(source string) CloudEvent {
	data := json.RawMessage(e.Data)
	if len(data) == 0 {
		data = json.RawMessage("{}")
	}
	return CloudEvent{
		SpecVersion: "1.0", ID: e.ID, Source: source, Type: e.Type, Subject: e.Subject,
		Time: e.Time.UTC().Format(time.RFC3339Nano), DataContentType: "application/json", Data: data,
	}
}

// JSON returns the CloudEvents JSON encoding of e. Events hold valid JSON
// data, written by Atrium itself, so encoding cannot fail on them; data
// that is not JSON is an internal error.
func (e Event) JSON(source string) ([]byte, error) {
	b, err := json.Marshal(e.CloudEvent(source))
	if err != nil {
		return nil, fault.Wrap("outbox.JSON", fault.Internal, err)
	}
	return b, nil
}
