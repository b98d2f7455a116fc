// Package app is Atrium's composition root: it opens the database, applies
// migrations, installs the kinds document, loads keys and builds the one
// http.Handler that serves everything. It holds no rules of its own.
package app

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/atriumid/atrium/internal/account"
	"github.com/atriumid/atrium/internal/api"
	"github.com/atriumid/atrium/internal/apikey"
	"github.com/atriumid/atrium/internal/audit"
	"github.com/atriumid/atrium/internal/chain"
	"github.com/atriumid/atrium/internal/config"
	"github.com/atriumid/atrium/internal/envelope"
	"github.com/atriumid/atrium/internal/fault"
	"github.com/atriumid/atrium/internal/freshness"
	"github.com/atriumid/atrium/internal/identifier"
	"github.com/atriumid/atrium/internal/ids"
	"github.com/atriumid/atrium/internal/kind"
	"github.com/atriumid/atrium/internal/sqlstore"
	"github.com/atriumid/atrium/internal/webhook"
)

// App is a running Atrium instance's state.
type App struct {
	db      *sqlstore.DB
	log     *slog.Logger
	handler http.Handler

	// Background work (the event relay, pruning, audit checkpoints) runs
	// under ctx until Close cancels it and waits on wg.
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	streams     chan struct{} // closed by StopStreams
	stopStreams sync.Once
}

// Open opens the database named in cfg, migrates it, installs the kinds
// document, and builds the handler. On an empty database it creates a
// bootstrap admin API key and prints it to notices, once.
func Open(ctx context.Context, cfg config.Config, log *slog.Logger, notices io.Writer) (*App, error) {
	db, err := sqlstore.Open(ctx, cfg.Database)
	if err != nil {
		return nil, err
	}
	a := &App{db: db, log: log, streams: make(chan struct{})}
	a.ctx, a.cancel = context.WithCancel(context.WithoutCancel(ctx))
	if err := a.init(ctx, cfg, notices); err != nil {
		a.Close()
		return nil, err
	}
	return a, nil
}

func (a *App) init(ctx context.Context, cfg config.Config, notices io.Writer) error {
	if err := a.db.Migrate(ctx); err != nil {
		return err
	}
	kinds, err := InstallKinds(ctx, a.db, cfg.KindsFile, "serve")
	if err != nil {
		return err
	}
	keys, err := keyring(cfg, a.log)
	if err != nil {
		return err
	}
	secret, err := a.db.Setting(ctx, "freshness_key", randomBytes(32))
	if err != nil {
		return err
	}
	codec, err := freshness.NewCodec(secret)
	if err != nil {
		return err
	}
	if err := a.bootstrapKey(ctx, notices); err != nil {
		return err
	}
	accounts := account.NewService(account.Config{
		Store: a.db.Accounts(), Kinds: kinds, Keys: keys, Freshness: codec,
		Identifiers: identifier.Normalizers{Wallet: normalizeWallet},
	})
	auditKey, err := AuditKey(ctx, a.db, cfg.AuditSigningKey)
	if err != nil {
		return err
	}
	apiHandler := api.Handler(api.Config{
		Accounts: accounts, Kinds: a.db, Keys: a.db, Idempotency: a.db.Idempotency(),
		IdempotencyTTL: cfg.IdempotencyTTL, MaxBodyBytes: cfg.MaxBodyBytes, Log: a.log,
		Events: a.db.Events(), EventSource: cfg.PublicURL, Audit: a.db.Audit(), AuditKey: auditKey.Public().(ed25519.PublicKey),
		Webhooks: a.db.Webhooks(), WebhookGuard: webhookGuard(cfg), Security: a.db.Audit(), Stop: a.streams,
		WebhookSecrets: &webhook.Sealer{Keys: keys},
	})
	if err := a.startEvents(cfg, auditKey, keys); err != nil {
		return err
	}
	a.handler = a.routes(apiHandler)
	return nil
}

// normalizeWallet normalizes a CAIP-10 wallet identifier to its canonical,
// EIP-55 checksummed form.
func normalizeWallet(v string) (string, error) {
	id, err := chain.ParseAccountID(v)
	if err != nil {
		return "", err
	}
	return id.String(), nil
}

// Handler returns the handler that serves every path.
func (a *App) Handler() http.Handler { return a.handler }

// StopStreams ends the event streams being served, so that a graceful
// shutdown does not wait for them; pass it to http.Server.RegisterOnShutdown.
func (a *App) StopStreams() { a.stopStreams.Do(func() { close(a.streams) }) }

// Close stops the background work, then closes the database.
func (a *App) Close() error {
	a.cancel()
	a.wg.Wait()
	return a.db.Close()
}

// routes lists the whole surface: health, readiness and the API.
func (a *App) routes(apiHandler http.Handler) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"status":"ok"}`)
	})
	mux.HandleFunc("GET /readyz", a.ready)
	mux.Handle("/v1/", apiHandler)
	mux.Handle("/atrium.v1.AccountService/", apiHandler)
	mux.Handle("/atrium.v1.KindService/", apiHandler)
	mux.Handle("/atrium.v1.EventService/", apiHandler)
	mux.Handle("/atrium.v1.AuditService/", apiHandler)
	return mux
}

// ready answers 200 when the database is reachable and fully migrated.
func (a *App) ready(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	w.Header().Set("Content-Type", "application/json")
	if err := a.db.Ping(ctx); err != nil {
		w.WriteHeader(http.StatusServiceUnavailable)
		io.WriteString(w, `{"status":"database unreachable"}`)
		return
	}
	if ok, err := a.db.Migrated(ctx); err != nil || !ok {
		w.WriteHeader(http.StatusServiceUnavailable)
		io.WriteString(w, `{"status":"migrations pending"}`)
		return
	}
	io.WriteString(w, `{"status":"ready"}`)
}

// InstallKinds makes sure the database holds a kinds document and returns
// a registry of the live one. On an empty database it stores file's
// document, or the built-in one when file is empty. When file is given and
// differs from the stored document, it is validated and stored as the next
// version.
func InstallKinds(ctx context.Context, h kind.History, file, appliedBy string) (*kind.Registry, error) {
	const op = "app.InstallKinds"
	var src []byte
	if file != "" {
		b, err := os.ReadFile(file)
		if err != nil {
			return nil, fault.E(op, fault.Invalid, "cannot read kinds file %s: %v", file, err)
		}
		src = b
	}
	latest, err := h.LatestKinds(ctx)
	switch {
	case fault.Is(err, fault.NotFound):
		if src == nil {
			src = kind.Builtin()
		}
		latest = kind.Version{}
	case err != nil:
		return nil, err
	case src == nil || bytes.Equal(src, latest.Source):
		set, err := kind.Load(latest.Source, kind.CompileOptions{})
		if err != nil {
			return nil, fault.Wrap(op, fault.Internal, err)
		}
		return kind.NewRegistry(set, latest.Number), nil
	}
	set, err := kind.Load(src, kind.CompileOptions{})
	if err != nil {
		return nil, err
	}
	v := kind.Version{Number: latest.Number + 1, Source: src, AppliedBy: appliedBy, ApplyTime: time.Now().UTC()}
	if err := h.AppendKinds(ctx, v); err != nil {
		return nil, err
	}
	return kind.NewRegistry(set, v.Number), nil
}

// keyring returns the key-encryption keys from configuration. Without any,
// an embedded SQLite deployment gets a key file beside its database
// (created once, mode 0600), so that a first start needs no setup;
// PostgreSQL deployments must configure keys.
func keyring(cfg config.Config, log *slog.Logger) (*envelope.Keyring, error) {
	const op = "app.keyring"
	if cfg.EncryptionKeys != "" {
		return envelope.ParseKeyring(cfg.EncryptionKeys)
	}
	path, err := sqlstore.SQLitePath(cfg.Database)
	if err != nil {
		return nil, fault.E(op, fault.Invalid, "set --encryption-keys (or ATRIUM_ENCRYPTION_KEYS) for a PostgreSQL database")
	}
	path += ".key"
	b, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		k, err := envelope.GenerateKey("local1")
		if err != nil {
			return nil, err
		}
		b = []byte(k.String())
		if err := os.WriteFile(path, b, 0o600); err != nil {
			return nil, fault.E(op, fault.Invalid, "cannot write key file %s: %v", path, err)
		}
		log.Warn("created a local encryption key file; keep it with the database and set --encryption-keys in production", "path", path)
	} else if err != nil {
		return nil, fault.E(op, fault.Invalid, "cannot read key file %s: %v", path, err)
	}
	return envelope.ParseKeyring(string(bytes.TrimSpace(b)))
}

// bootstrapKey creates the first admin API key on an empty database and
// prints it to w. Replicas starting together agree on one winner through
// a setting that only one can store.
func (a *App) bootstrapKey(ctx context.Context, w io.Writer) error {
	mine := randomBytes(16)
	var made []byte
	got, err := a.db.Setting(ctx, "bootstrap", func() ([]byte, error) {
		b, err := mine()
		made = b
		return b, err
	})
	if err != nil || made == nil || !bytes.Equal(got, made) {
		return err
	}
	k, err := CreateAdminKey(ctx, a.db)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(w, "This is the only time the bootstrap key is shown; store it now.\nbootstrap admin API key: %s\n", k.Secret)
	return err
}

// CreateAdminKey creates an admin API key and returns it; only its hash is
// stored, with an audit record of its creation by the actor in ctx.
func CreateAdminKey(ctx context.Context, db *sqlstore.DB) (apikey.Key, error) {
	k, err := apikey.New()
	if err != nil {
		return apikey.Key{}, err
	}
	now := time.Now().UTC().Truncate(time.Microsecond)
	e := audit.Entry{ID: ids.New("aud"), Type: "atrium.security.api_key_created", Account: "key:" + k.ID, Time: now,
		Data: []byte(`{"role":"admin"}`), Actor: audit.ActorFrom(ctx)}
	return k, db.Audit().InsertAPIKey(ctx, k.ID, apikey.Hash(k.Secret), "admin", now, e)
}

// randomBytes returns a generator of n random bytes.
func randomBytes(n int) func() ([]byte, error) {
	return func() ([]byte, error) {
		b := make([]byte, n)
		_, err := rand.Read(b)
		return b, err
	}
}
