// Package natsbus publishes the outbox to a NATS JetStream stream. It is
// the only package that imports nats.go.
//
// Each event goes to the subject named by its type (atrium.<kind>.<event>,
// such as atrium.account.created) as CloudEvents 1.0 JSON, with the
// Nats-Msg-Id header set to the event ID, so the stream drops the repeats
// that at-least-once delivery makes within its duplicate window. Publish
// waits for the stream's acknowledgement, which is what lets the relay
// advance its cursor.
package natsbus

import (
	"context"
	"strings"
	"sync"
	"time"

	"github.com/atriumid/atrium/internal/fault"
	"github.com/atriumid/atrium/internal/outbox"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Defaults of Options.
const (
	DefaultStream     = "ATRIUM"
	DefaultDuplicates = 10 * time.Minute
)

// Options configure a Bus. Zero values take the defaults.
type Options struct {
	Stream     string        // stream name; default DefaultStream
	Duplicates time.Duration // the stream's duplicate window; default DefaultDuplicates
	Source     string        // CloudEvents source; default outbox.DefaultSource
	Name       string        // connection name shown by the server
	// Prefix replaces "atrium" as the first token of every subject, so
	// that several deployments (or tests) share one NATS; default "atrium".
	Prefix  string
	AckWait time.Duration // how long Publish waits for the stream; default 5 s
}

// Bus is a connection to NATS that publishes events. It implements
// outbox.Publisher and is safe for concurrent use.
type Bus struct {
	nc   *nats.Conn
	js   jetstream.JetStream
	opts Options

	mu      sync.Mutex
	ensured bool // guarded by mu: the stream exists
}

// Connect connects to the NATS server at url. The connection reconnects
// forever, and a server that is down at start is retried in the
// background: the outbox keeps events until it is back, so writes never
// wait for NATS. A malformed URL is fault.Invalid.
func Connect(url string, o Options) (*Bus, error) {
	const op = "natsbus.Connect"
	if o.Stream == "" {
		o.Stream = DefaultStream
	}
	if o.Duplicates <= 0 {
		o.Duplicates = DefaultDuplicates
	}
	if o.Source == "" {
		o.Source = outbox.DefaultSource
	}
	if o.Prefix == "" {
		o.Prefix = "atrium"
	}
	if o.AckWait <= 0 {
		o.AckWait = 5 * time.Second
	}
	nc, err := nats.Connect(url, nats.Name(o.Name), nats.MaxReconnects(-1), nats.ReconnectWait(500*time.Millisecond),
		nats.RetryOnFailedConnect(true), nats.Timeout(2*time.Second))
	if err != nil {
		return nil, fault.Wrap(op, fault.Invalid, err)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		nc.Close()
		return nil, fault.Wrap(op, fault.Internal, err)
	}
	return &Bus{nc: nc, js: js, opts: o}, nil
}

// Close closes the connection.
func (b *Bus) Close() { b.nc.Close() }

// ensureStream creates or updates the stream once per Bus.
func (b *Bus) ensureStream(ctx context.Context) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.ensured {
		return nil
	}
	_, err := b.js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name: b.opts.Stream, Subjects: []string{b.opts.Prefix + ".>"}, Duplicates: b.opts.Duplicates, Storage: jetstream.FileStorage,
	})
	if err != nil {
		return fault.Wrap("natsbus.ensureStream", fault.Unavailable, err)
	}
	b.ensured = true
	return nil
}

// Publish publishes e and waits for the stream's acknowledgement. It
// returns fault.Unavailable when NATS does not acknowledge.
func (b *Bus) Publish(ctx context.Context, e outbox.Record) error {
	const op = "natsbus.Publish"
	if err := b.ensureStream(ctx); err != nil {
		return err
	}
	subject, err := Subject(e.Type)
	if err != nil {
		return err
	}
	subject = b.opts.Prefix + strings.TrimPrefix(subject, "atrium")
	data, err := e.JSON(b.opts.Source)
	if err != nil {
		return err
	}
	msg := nats.NewMsg(subject)
	msg.Data = data
	msg.Header.Set("Content-Type", "application/cloudevents+json")
	ctx, cancel := context.WithTimeout(ctx, b.opts.AckWait)
	defer cancel()
	if _, err := b.js.PublishMsg(ctx, msg, jetstream.WithMsgID(e.ID), jetstream.WithExpectStream(b.opts.Stream)); err != nil {
		return fault.Wrap(op, fault.Unavailable, err)
	}
	return nil
}

// Subject returns the NATS subject of events of type typ: the type itself,
// which must be dot-separated tokens under "atrium." with no wildcards or
// spaces. Any other type is fault.Internal: types are Atrium's own.
func Subject(typ string) (string, error) {
	ok := strings.HasPrefix(typ, "atrium.") && len(typ) <= 255
	for _, tok := range strings.Split(typ, ".") {
		if tok == "" || strings.ContainsAny(tok, "*> \t\r\n") {
			ok = false
		}
	}
	if !ok {
		return "", fault.E("natsbus.Subject", fault.Internal, "event type %q is not a NATS subject", typ)
	}
	return typ, nil
}
