// Package outbox holds the event envelope that every state change appends
// inside its own transaction, so that a change and its event commit together
// or not at all.
package outbox

import (
	"encoding/json"
	"time"

	"github.com/atriumid/atrium/internal/ids"
)

// Event is one state change, appended to the outbox in the transaction that
// made the change. Data never carries pii or secret values: only names,
// versions and states.
type Event struct {
	ID      string    // unique, time-ordered; consumers dedupe by it
	Type    string    // such as "atrium.account.created"
	Subject string    // the account (or other object) the event is about
	Time    time.Time // when the change was made
	Data    []byte    // JSON object
}

// New returns an event of type typ about subject at time now, with data
// encoded as JSON. data must be JSON-encodable; it is built by Atrium itself
// from names, versions and states, so an encoding failure is a bug and
// panics.
func New(typ, subject string, now time.Time, data any) Event {
	b, err := json.Marshal(data)
	if err != nil {
		panic("outbox: event data: " + err.Error())
	}
	return Event{ID: ids.New("evt"), Type: typ, Subject: subject, Time: now, Data: b}
}
