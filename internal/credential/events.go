package credential

import (
	"context"
	"encoding/json"

	"github.com/atriumid/atrium/internal/audit"
	"github.com/atriumid/atrium/internal/fault"
	"github.com/atriumid/atrium/internal/ids"
	"github.com/atriumid/atrium/internal/outbox"
)

// Record appends e, an event about the account e.Subject, and its audit
// record, attributed to the actor in ctx. Every credential and session
// change ends here, in its transaction. Event data holds methods, counts
// and IDs, never a secret or an identifier's value.
func Record(ctx context.Context, tx Tx, e outbox.Event) error {
	if err := tx.AppendEvent(ctx, e); err != nil {
		return err
	}
	data := map[string]any{}
	if err := json.Unmarshal(e.Data, &data); err != nil {
		return fault.Wrap("credential.record", fault.Internal, err)
	}
	data["event"] = e.ID
	b, err := json.Marshal(data)
	if err != nil {
		return fault.Wrap("credential.record", fault.Internal, err)
	}
	return tx.AppendAudit(ctx, audit.Entry{ID: ids.New("aud"), Type: e.Type, Account: e.Subject, Time: e.Time, Data: b, Actor: audit.ActorFrom(ctx)})
}

// write runs fn and records what it returns in one transaction.
func (s *Service) write(ctx context.Context, fn func(ctx context.Context, tx Tx) (outbox.Event, error)) error {
	return s.c.Store.Update(ctx, func(ctx context.Context, tx Tx) error {
		e, err := fn(ctx, tx)
		if err != nil {
			return err
		}
		return Record(ctx, tx, e)
	})
}

// note records an event with nothing else to write, such as a failed
// login; it fails only when the database does.
func (s *Service) note(ctx context.Context, e outbox.Event) error {
	err := s.write(context.WithoutCancel(ctx), func(context.Context, Tx) (outbox.Event, error) { return e, nil })
	if err != nil {
		return fault.Wrap("credential.note", fault.Unavailable, err)
	}
	return nil
}
