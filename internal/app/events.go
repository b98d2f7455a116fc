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
	"github.com/atriumid/atrium/internal/envelope"
	"github.com/atriumid/atrium/internal/fault"
	"github.com/atriumid/atrium/internal/ids"
	"github.com/atriumid/atrium/internal/natsbus"
	"github.com/atriumid/atrium/internal/outbox"
	"github.com/atriumid/atrium/internal/sqlstore"
	"github.com/atriumid/atrium/internal/webhook"
)

// auditKeySetting is the setting that keeps the audit signing key's seed
// when none is configured.
const auditKeySetting = "audit_signing_key"

// AuditKey returns the Ed25519 key that signs audit checkpoints: the
// configured seed, or else one generated once and kept in the settings
// table. A key kept in the database proves nothing against someone who can
// write the database; production deployments configure their own and keep
// it elsewhere.
func AuditKey(ctx context.Context, db *sqlstore.DB, seed string) (ed25519.PrivateKey, error) {
	if seed != "" {
		return parseAuditSeed(seed)
	}
	b, err := db.Setting(ctx, auditKeySetting, randomBytes(ed25519.SeedSize))
	if err != nil {
		return nil, err
	}
	return ed25519.NewKeyFromSeed(b), nil
}

// AuditPublicKey returns the public key that checks audit checkpoints,
// without writing anything: that of the configured seed, or else that of
// the key kept in the database, or nil when the database keeps none (no
// server has signed a checkpoint with a kept key).
func AuditPublicKey(ctx context.Context, db *sqlstore.DB, seed string) (ed25519.PublicKey, error) {
	if seed != "" {
		key, err := parseAuditSeed(seed)
		if err != nil {
			return nil, err
		}
		return key.Public().(ed25519.PublicKey), nil
	}
	b, err := db.StoredSetting(ctx, auditKeySetting)
	if fault.Is(err, fault.NotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return ed25519.NewKeyFromSeed(b).Public().(ed25519.PublicKey), nil
}

// parseAuditSeed decodes a configured audit signing key.
func parseAuditSeed(seed string) (ed25519.PrivateKey, error) {
	b, err := base64.StdEncoding.DecodeString(seed)
	if err != nil || len(b) != ed25519.SeedSize {
		return nil, fault.E("app.AuditKey", fault.Invalid, "--audit-key must be a base64 Ed25519 seed of %d bytes", ed25519.SeedSize)
	}
	return ed25519.NewKeyFromSeed(b), nil
}

// startEvents starts the background work of events and audit: the NATS
// relay when configured, pruning of delivered events, and audit
// checkpoints. Each runs until Close.
func (a *App) startEvents(cfg config.Config, key ed25519.PrivateKey, keys *envelope.Keyring) error {
	host, _ := os.Hostname()
	holder := fmt.Sprintf("%s/%s", host, ids.New("rly"))
	if cfg.NatsURL != "" {
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
	hooks := a.db.Webhooks()
	fanOut := &outbox.Relay{Name: "webhooks", Holder: holder, Log: a.db.Events(), Logger: a.log,
		Publisher: &webhook.FanOut{Store: hooks, Source: cfg.PublicURL}}
	a.background(func(ctx context.Context) { fanOut.Run(ctx) })
	sender := &webhook.Sender{Store: hooks, Client: webhookGuard(cfg).Client(), Secrets: &webhook.Sealer{Keys: keys},
		Logger: a.log, Poll: 250 * time.Millisecond, Attempted: a.metrics.attempted}
	a.background(sender.Run)
	a.background(func(ctx context.Context) {
		every(ctx, time.Minute, func(ctx context.Context) {
			cut := time.Now().Add(-cfg.EventRetention)
			drain(ctx, a, "events", func(ctx context.Context) (int64, error) { return a.db.Events().Prune(ctx, cut, 1000) })
			drain(ctx, a, "webhook deliveries", func(ctx context.Context) (int64, error) { return hooks.PruneDeliveries(ctx, cut, 1000) })
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

// webhookGuard is the SSRF guard of webhook targets.
func webhookGuard(cfg config.Config) webhook.Guard {
	return webhook.Guard{AllowPrivate: cfg.WebhookAllowPrivate}
}

// drain calls prune until it deletes less than a full batch.
func drain(ctx context.Context, a *App, what string, prune func(ctx context.Context) (int64, error)) {
	for {
		n, err := prune(ctx)
		if err != nil {
			a.log.Warn("pruning failed", "what", what, "err", err)
		}
		if err != nil || n < 1000 {
			return
		}
	}
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
