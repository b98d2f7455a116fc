package app

import (
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"fmt"
	"os"
	"time"

	"github.com/atriumid/atrium/internal/audit"
	"github.com/atriumid/atrium/internal/config"
	"github.com/atriumid/atrium/internal/fault"
	"github.com/atriumid/atrium/internal/ids"
	"github.com/atriumid/atrium/internal/natsbus"
	"github.com/atriumid/atrium/internal/outbox"
	"github.com/atriumid/atrium/internal/sqlstore"
)

// AuditKey returns the Ed25519 key that signs audit checkpoints: the
// configured seed, or else one generated once and kept in the settings
// table. A key kept in the database proves nothing against someone who can
// write the database; production deployments configure their own and keep
// it elsewhere.
func AuditKey(ctx context.Context, db *sqlstore.DB, seed string) (ed25519.PrivateKey, error) {
	const op = "app.AuditKey"
	if seed != "" {
		b, err := base64.StdEncoding.DecodeString(seed)
		if err != nil || len(b) != ed25519.SeedSize {
			return nil, fault.E(op, fault.Invalid, "--audit-key must be a base64 Ed25519 seed of %d bytes", ed25519.SeedSize)
		}
		return ed25519.NewKeyFromSeed(b), nil
	}
	b, err := db.Setting(ctx, "audit_signing_key", randomBytes(ed25519.SeedSize))
	if err != nil {
		return nil, err
	}
	return ed25519.NewKeyFromSeed(b), nil
}

// startEvents starts the background work of events and audit: the NATS
// relay when configured, pruning of delivered events, and audit
// checkpoints. Each runs until Close.
func (a *App) startEvents(cfg config.Config, key ed25519.PrivateKey) error {
	if cfg.NatsURL != "" {
		host, _ := os.Hostname()
		holder := fmt.Sprintf("%s/%s", host, ids.New("rly"))
		bus, err := natsbus.Connect(cfg.NatsURL, natsbus.Options{Source: cfg.PublicURL, Name: "atrium " + holder})
		if err != nil {
			return err
		}
		relay := &outbox.Relay{Name: "nats", Holder: holder, Log: a.db.Events(), Publisher: bus, Logger: a.log}
		a.background(func(ctx context.Context) {
			defer bus.Close()
			relay.Run(ctx)
		})
	}
	a.background(func(ctx context.Context) {
		every(ctx, time.Minute, func(ctx context.Context) {
			for {
				n, err := a.db.Events().Prune(ctx, time.Now().Add(-cfg.EventRetention), 1000)
				if err != nil {
					a.log.Warn("pruning events failed", "err", err)
				}
				if n < 1000 {
					return
				}
			}
		})
	})
	a.background(func(ctx context.Context) {
		every(ctx, cfg.AuditCheckpoints, func(ctx context.Context) {
			if _, err := audit.WriteCheckpoint(ctx, a.db.Audit(), key, time.Now()); err != nil {
				a.log.Warn("audit checkpoint failed", "err", err)
			}
		})
	})
	return nil
}

// every runs f every interval until ctx ends.
func every(ctx context.Context, interval time.Duration, f func(ctx context.Context)) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			f(ctx)
		}
	}
}

// background runs f in a goroutine that Close stops and waits for.
func (a *App) background(f func(ctx context.Context)) {
	a.wg.Add(1)
	go func() {
		defer a.wg.Done()
		f(a.ctx)
	}()
}
