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
	"net/url"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/atriumid/atrium/internal/account"
	"github.com/atriumid/atrium/internal/admission"
	"github.com/atriumid/atrium/internal/api"
	"github.com/atriumid/atrium/internal/apikey"
	"github.com/atriumid/atrium/internal/audit"
	"github.com/atriumid/atrium/internal/authz"
	"github.com/atriumid/atrium/internal/config"
	"github.com/atriumid/atrium/internal/credential"
	"github.com/atriumid/atrium/internal/credential/password"
	"github.com/atriumid/atrium/internal/envelope"
	"github.com/atriumid/atrium/internal/fault"
	"github.com/atriumid/atrium/internal/freshness"
	"github.com/atriumid/atrium/internal/identifier"
	"github.com/atriumid/atrium/internal/ids"
	"github.com/atriumid/atrium/internal/kind"
	"github.com/atriumid/atrium/internal/mail"
	"github.com/atriumid/atrium/internal/session"
	"github.com/atriumid/atrium/internal/sms"
	"github.com/atriumid/atrium/internal/sqlstore"
	"github.com/atriumid/atrium/internal/throttle"
	"github.com/atriumid/atrium/internal/webhook"
)

// App is a running Atrium instance's state.
type App struct {
	db      *sqlstore.DB
	log     *slog.Logger
	handler http.Handler
	stop    context.CancelFunc // stops the kinds watcher
	watched chan struct{}      // closed when the kinds watcher returns

	// Background work (the event relay, pruning, audit checkpoints) runs
	// under ctx until Close cancels it and waits on wg.
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	streams     chan struct{} // closed by StopStreams
	stopStreams sync.Once

	metrics   *metrics
	admission *admission.Limiter // nil when load shedding is off
}

// Open opens the database named in cfg, migrates it, installs the kinds
// document, and builds the handler. On an empty database it creates a
// bootstrap admin API key and prints it to notices, once.
func Open(ctx context.Context, cfg config.Config, log *slog.Logger, notices io.Writer) (*App, error) {
	db, err := sqlstore.Open(ctx, cfg.Database)
	if err != nil {
		return nil, err
	}
	a := &App{db: db, log: log, streams: make(chan struct{}), metrics: newMetrics(db)}
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
	keys, err := keyring(ctx, cfg, a.db, a.log)
	if err != nil {
		return err
	}
	kinds, err := InstallKinds(ctx, a.db, cfg.KindsFile, "serve", keys)
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
	cache, replica, err := a.readPath(ctx, cfg, secret)
	if err != nil {
		return err
	}
	relCfg := authz.Config{Store: a.db.Tuples(), Kinds: kinds, Freshness: codec}
	accCfg := account.Config{
		Store: a.db.Accounts(), Kinds: kinds, Keys: keys, Freshness: codec,
		Identifiers: identifier.Normalizers{Wallet: normalizeWallet}, Sessions: a.db.SessionRevoker(), Replica: replica,
		EncodedBytes: encodedBudget(cfg),
	}
	if cache != nil { // a nil *readcache.Cache in an interface would not read as nil
		checks := cache.Immutable("checks")
		relCfg.Cache, accCfg.Cache = checks, cache
		a.metrics.reg.MustRegister(&cacheCollector{cache: cache, checks: checks})
	}
	relations := authz.NewService(relCfg)
	accCfg.Tuples = relations
	accounts := account.NewService(accCfg)
	sessions := session.NewService(a.db.Sessions(), session.DefaultPolicy, nil)
	creds, err := credentials(cfg, accounts, kinds, keys, sessions, a.db, a.log)
	if err != nil {
		return err
	}
	auditKey, err := AuditKey(ctx, a.db, cfg.AuditSigningKey)
	if err != nil {
		return err
	}
	a.admission = newLimiter(cfg)
	if a.admission != nil {
		a.metrics.reg.MustRegister(admissionCollector{limiter: a.admission})
	}
	streams := api.NewStreamLimit(cfg.MaxEventStreams, cfg.MaxEventStreamsPerKey)
	a.metrics.countStreams(streams)
	apiHandler := api.Handler(api.Config{
		Accounts: accounts, Credentials: creds, Sessions: sessions,
		Relations: relations, Kinds: a.db, KindApplier: newApplier(a.db, kinds, keys), Keys: a.db, Idempotency: a.db.Idempotency(),
		IdempotencyTTL: cfg.IdempotencyTTL, MaxBodyBytes: cfg.MaxBodyBytes, Log: a.log,
		Events: a.db.Events(), EventSource: cfg.PublicURL, Audit: a.db.Audit(), AuditKey: auditKey.Public().(ed25519.PublicKey),
		Webhooks: a.db.Webhooks(), WebhookGuard: webhookGuard(cfg), Security: a.db.Audit(), Stop: a.streams, Streams: streams,
		WebhookSecrets: &webhook.Sealer{Keys: keys}, Metrics: a.metrics.handler(),
		Admission: a.admission, RequestTimeout: cfg.RequestTimeout,
	})
	if err := a.startEvents(cfg, auditKey, keys); err != nil {
		return err
	}
	a.startENS(cfg, creds)
	a.handler = a.routes(apiHandler)
	a.watchKinds(ctx, kinds)
	return nil
}

// watchKinds starts following the kinds documents that other replicas
// apply: polling, and on PostgreSQL also listening for notifications.
// Close stops both.
func (a *App) watchKinds(ctx context.Context, kinds *kind.Registry) {
	ctx, stop := context.WithCancel(context.WithoutCancel(ctx))
	a.stop, a.watched = stop, make(chan struct{})
	wake := make(chan struct{}, 1)
	var wg sync.WaitGroup
	wg.Go(func() {
		a.db.ListenKinds(ctx, func() {
			select {
			case wake <- struct{}{}:
			default: // a check is already due
			}
		})
	})
	wg.Go(func() { watchKinds(ctx, a.db, kinds, KindsPollInterval, wake, a.log) })
	go func() {
		wg.Wait()
		close(a.watched)
	}()
}

// credentials builds the credential service: password hashing from cfg,
// throttling and sessions in the database.
func credentials(cfg config.Config, accounts *account.Service, kinds *kind.Registry, keys *envelope.Keyring, sessions *session.Service, db *sqlstore.DB, log *slog.Logger) (*credential.Service, error) {
	var context []string
	if u, err := url.Parse(cfg.PublicURL); err == nil && u.Hostname() != "" {
		context = append(context, u.Hostname())
	}
	wallets, err := walletConfig(cfg, db)
	if err != nil {
		return nil, err
	}
	pk, err := passkeyConfig(cfg, db)
	if err != nil {
		return nil, err
	}
	return credential.NewService(credential.Config{
		Accounts: accounts, Kinds: kinds, Store: db.Credentials(), Sessions: sessions, Keys: keys,
		Limiter:         throttle.New(db.Throttle(), throttle.DefaultPolicies, nil),
		Sends:           throttle.New(db.Throttle(), throttle.SendPolicies, nil),
		Hashing:         password.Params{Memory: cfg.PasswordHashMemoryKiB, Time: cfg.PasswordHashTime, Threads: 1},
		HashConcurrency: cfg.PasswordHashConcurrency,
		Policy:          password.DefaultPolicy, Issuer: "Atrium", ContextWords: context,
		Mail: mailer(cfg), SMS: smsSender(cfg, log), PublicURL: strings.TrimSuffix(cfg.PublicURL, "/"),
		Wallets: wallets, Passkeys: pk,
	})
}

// mailer returns the SMTP sender of cfg, or nil when none is configured.
func mailer(cfg config.Config) credential.Mailer {
	if cfg.SMTPAddr == "" {
		return nil
	}
	return &mail.SMTP{Addr: cfg.SMTPAddr, From: cfg.SMTPFrom, Insecure: cfg.SMTPInsecure, ImplicitTLS: cfg.SMTPTLS}
}

// smsSender returns the SMS sender of cfg, or nil when none is configured.
func smsSender(cfg config.Config, log *slog.Logger) credential.SMSSender {
	if !cfg.SMSLog {
		return nil
	}
	return sms.Log{Logger: log, RevealText: cfg.SMSLogCodes}
}

// normalizeWallet normalizes a wallet identifier to its identity key in
// canonical, EIP-55 checksummed form (see credential.NormalizeWallet).
func normalizeWallet(v string) (string, error) { return credential.NormalizeWallet(v) }

// Handler returns the handler that serves every path.
func (a *App) Handler() http.Handler { return a.handler }

// StopStreams ends the event streams being served, so that a graceful
// shutdown does not wait for them; pass it to http.Server.RegisterOnShutdown.
func (a *App) StopStreams() { a.stopStreams.Do(func() { close(a.streams) }) }

// Close stops the background work, then closes the database.
func (a *App) Close() error {
	a.cancel()
	a.wg.Wait()
	if a.stop != nil {
		a.stop()
		<-a.watched
	}
	return a.db.Close()
}

// routes lists the whole surface: health, readiness, the API and its
// metrics, every request counted by route.
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
	mux.Handle("/atrium.v1.RelationService/", apiHandler)
	mux.Handle("/atrium.v1.AuthService/", apiHandler)
	mux.Handle("/atrium.v1.SessionService/", apiHandler)
	mux.Handle("/atrium.v1.EventService/", apiHandler)
	mux.Handle("/atrium.v1.AuditService/", apiHandler)
	mux.Handle("/atrium.v1.WalletService/", apiHandler)
	mux.Handle("/atrium.v1.PasskeyService/", apiHandler)
	mux.Handle("GET /metrics", apiHandler)
	return a.metrics.instrument(recoverPanics(a.log, mux))
}

// recoverPanics answers a request whose handler panicked with a plain 500,
// and logs the request line without the panic's stack or value: they may
// hold request data, and a panic is found again from the request.
func recoverPanics(log *slog.Logger, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				log.ErrorContext(r.Context(), "handler panicked", "method", r.Method, "path", r.URL.Path)
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(http.StatusInternalServerError)
				io.WriteString(w, `{"code":"internal","message":"internal error"}`)
			}
		}()
		next.ServeHTTP(w, r)
	})
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

// keyring returns the key-encryption keys from configuration. Without any,
// an embedded SQLite deployment gets a key file beside its database
// (created once, mode 0600), so that a first start needs no setup;
// PostgreSQL deployments must configure keys.
func keyring(ctx context.Context, cfg config.Config, db *sqlstore.DB, log *slog.Logger) (*envelope.Keyring, error) {
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
		// A new key for a database that already holds sealed data would
		// leave that data unreadable: refuse, and say what is missing.
		if sealed, err := db.HasDataKeys(ctx); err != nil || sealed {
			if err != nil {
				return nil, err
			}
			return nil, fault.E(op, fault.FailedPrecondition, "key file %s is missing but the database holds encrypted data: restore the file or set --encryption-keys", path)
		}
		k, err := envelope.GenerateKey("local1")
		if err != nil {
			return nil, err
		}
		b = []byte(k.String())
		if err := writeNewFile(path, b); err != nil {
			return nil, fault.E(op, fault.Invalid, "cannot write key file %s: %v", path, err)
		}
		log.Warn("created a local encryption key file; keep it with the database and set --encryption-keys in production", "path", path)
	} else if err != nil {
		return nil, fault.E(op, fault.Invalid, "cannot read key file %s: %v", path, err)
	}
	return envelope.ParseKeyring(string(bytes.TrimSpace(b)))
}

// writeNewFile creates path with mode 0600 and writes b, failing if the
// file exists (another process made it first).
func writeNewFile(path string, b []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return err
	}
	return f.Close()
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
