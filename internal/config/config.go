// Package config holds the settings of an Atrium server: defaults, then
// environment variables, then command-line flags, then validation.
package config

import (
	"flag"
	"fmt"
	"io"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Config is the configuration of `atrium serve` and the commands that open
// the database.
type Config struct {
	Database       string        // sqlite://PATH or postgres://…
	Listen         string        // host:port
	PublicURL      string        // externally visible base URL; derived from Listen when empty
	KindsFile      string        // a kinds document to apply at start; empty keeps the stored one
	EncryptionKeys string        // "id:base64,…" key-encryption keys, primary first
	MaxBodyBytes   int64         // request body cap
	IdempotencyTTL time.Duration // how long Idempotency-Key records live
	ShutdownGrace  time.Duration // how long in-flight requests may run after SIGTERM
	LogLevel       string        // debug, info, warn, error
	// Argon2id cost of new password hashes; hashes made with other
	// parameters are replaced at the next login.
	PasswordHashMemoryKiB uint32
	PasswordHashTime      uint32
	// PasswordHashConcurrency bounds the password hashes computed at
	// once; 0 sizes it from the cores and the Go memory limit.
	PasswordHashConcurrency int
	// SMTP relay (host:port) and sender address of verification e-mail;
	// without a relay, e-mail verification is off.
	SMTPAddr string
	SMTPFrom string
	// SMTPInsecure allows a relay without STARTTLS (development only);
	// SMTPTLS connects with TLS from the first byte (port 465).
	SMTPInsecure bool
	SMTPTLS      bool
	// SMSLog sends SMS codes to the log (development); SMSLogCodes
	// includes the codes themselves in it.
	SMSLog      bool
	SMSLogCodes bool

	NatsURL          string        // NATS server with JetStream; empty: no relay, the embedded feed only
	EventRetention   time.Duration // delivered events older than this are pruned
	AuditSigningKey  string        // base64 Ed25519 seed that signs audit checkpoints; empty: one kept in the database
	AuditCheckpoints time.Duration // how often the audit chain's head is signed
	// WebhookAllowPrivate lets webhooks target loopback and private
	// addresses. For tests and closed networks only.
	WebhookAllowPrivate bool
	// SIWEChains are the EIP-155 chain IDs a Sign-In with Ethereum message
	// may name.
	SIWEChains []uint64
	// EthRPC are the JSON-RPC endpoints by chain ID that verify
	// smart-contract wallet signatures (ERC-1271, ERC-6492).
	EthRPC []EthRPC
	// WebAuthnRPID is the WebAuthn relying party ID of passkeys; the
	// public URL's host when empty.
	WebAuthnRPID string
	// WebAuthnOrigins are the origins passkey ceremonies may come from;
	// the public URL's origin when empty.
	WebAuthnOrigins []string

	// Concurrency is the adaptive limit on requests running at once; a
	// zero Max turns admission control off.
	Concurrency Concurrency
	// ShedQueue bounds the requests waiting for a slot when the limit is
	// reached; zero sheds them at once.
	ShedQueue int
	// RequestTimeout bounds each API request, database calls included.
	RequestTimeout time.Duration
	// MaxEventStreams bounds the server-sent event streams served at once
	// (they are exempt from admission control), and MaxEventStreamsPerKey
	// those of one API key; zero leaves each unbounded.
	MaxEventStreams       int
	MaxEventStreamsPerKey int
	// ENS names resolve through the Universal Resolver at ENSResolver
	// (empty: mainnet's) on chain ENSChain, which needs an EthRPC
	// endpoint; without one ENS names are off. Verified names are
	// verified again every ENSTTL.
	ENSChain    uint64
	ENSResolver string
	ENSTTL      time.Duration
	// CCIPRead lets ENS resolution follow EIP-3668 OffchainLookup to https
	// gateways whose host is in CCIPHosts.
	CCIPRead  bool
	CCIPHosts []string

	// Read path: the read cache's memory budget in bytes (0: no cache),
	// how old a read without a freshness token may be, the shared cache
	// level, and a PostgreSQL streaming replica for reads.
	CacheBytes        int64
	CacheMaxStaleness time.Duration
	RedisURL          string // redis://… or rediss://…; empty: memory only
	RedisPrefix       string // starts every key this deployment writes
	DatabaseReplica   string // postgres://…; empty: every read on the primary
}

// Concurrency is where the adaptive concurrency limit starts and the
// bounds it moves within.
type Concurrency struct{ Initial, Min, Max int }

// String renders c as the --max-concurrency flag takes it.
func (c Concurrency) String() string { return fmt.Sprintf("%d/%d/%d", c.Initial, c.Min, c.Max) }

// EthRPC is one chain's JSON-RPC endpoint. The URL may hold an API key.
type EthRPC struct {
	ChainID uint64
	URL     string
}

// Default returns the defaults: embedded SQLite in the working directory,
// port 8080.
func Default() Config {
	return Config{
		Database:       "sqlite://./atrium.db",
		Listen:         ":8080",
		MaxBodyBytes:   1 << 20,
		IdempotencyTTL: 24 * time.Hour,
		ShutdownGrace:  30 * time.Second,
		LogLevel:       "info",
		// OWASP's first argon2id configuration: 19 MiB, 2 passes.
		PasswordHashMemoryKiB: 19 * 1024,
		PasswordHashTime:      2,
		EventRetention:        7 * 24 * time.Hour,
		AuditCheckpoints:      time.Minute,
		SIWEChains:            []uint64{1},
		Concurrency:           Concurrency{Initial: 32, Min: 8, Max: 512},
		ShedQueue:             256,
		RequestTimeout:        10 * time.Second,
		MaxEventStreams:       256,
		MaxEventStreamsPerKey: 64,
		ENSChain:              1,
		ENSTTL:                24 * time.Hour,
		CacheBytes:            64 << 20,
		CacheMaxStaleness:     2 * time.Second,
		RedisPrefix:           "atrium:",
	}
}

// env names the environment variable of each setting.
var env = map[string]string{
	"database":         "ATRIUM_DATABASE_URL",
	"listen":           "ATRIUM_LISTEN",
	"public-url":       "ATRIUM_PUBLIC_URL",
	"kinds":            "ATRIUM_KINDS_FILE",
	"encryption-keys":  "ATRIUM_ENCRYPTION_KEYS",
	"log-level":        "ATRIUM_LOG_LEVEL",
	"smtp-addr":        "ATRIUM_SMTP_ADDR",
	"smtp-from":        "ATRIUM_SMTP_FROM",
	"nats-url":         "ATRIUM_NATS_URL",
	"audit-key":        "ATRIUM_AUDIT_SIGNING_KEY",
	"webauthn-rp-id":   "ATRIUM_WEBAUTHN_RP_ID",
	"webauthn-origin":  "ATRIUM_WEBAUTHN_ORIGINS",
	"redis-url":        "ATRIUM_REDIS_URL",
	"database-replica": "ATRIUM_DATABASE_REPLICA_URL",
}

// FlagSet returns a flag set for command name whose flags write into c,
// with c's current values (already overlaid with the environment) as
// defaults. Only the flags named in want are defined (all when empty).
func (c *Config) FlagSet(name string, out io.Writer, want ...string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(out)
	def := func(n string) bool {
		if len(want) == 0 {
			return true
		}
		for _, w := range want {
			if w == n {
				return true
			}
		}
		return false
	}
	if def("database") {
		fs.StringVar(&c.Database, "database", c.Database, "database URL: sqlite://PATH or postgres://USER@HOST:PORT/DB (env ATRIUM_DATABASE_URL)")
	}
	if def("listen") {
		fs.StringVar(&c.Listen, "listen", c.Listen, "address to serve on (env ATRIUM_LISTEN)")
	}
	if def("public-url") {
		fs.StringVar(&c.PublicURL, "public-url", c.PublicURL, "externally visible base URL; default derived from --listen (env ATRIUM_PUBLIC_URL)")
	}
	if def("kinds") {
		fs.StringVar(&c.KindsFile, "kinds", c.KindsFile, "kinds document (YAML or JSON) to apply at start (env ATRIUM_KINDS_FILE)")
	}
	if def("encryption-keys") {
		fs.StringVar(&c.EncryptionKeys, "encryption-keys", c.EncryptionKeys, "key-encryption keys id:base64,… primary first (env ATRIUM_ENCRYPTION_KEYS)")
	}
	if def("log-level") {
		fs.StringVar(&c.LogLevel, "log-level", c.LogLevel, "debug, info, warn or error (env ATRIUM_LOG_LEVEL)")
	}
	if def("smtp-addr") {
		fs.StringVar(&c.SMTPAddr, "smtp-addr", c.SMTPAddr, "SMTP relay host:port for verification e-mail (env ATRIUM_SMTP_ADDR)")
	}
	if def("smtp-from") {
		fs.StringVar(&c.SMTPFrom, "smtp-from", c.SMTPFrom, "sender address of verification e-mail (env ATRIUM_SMTP_FROM)")
	}
	if def("password-hash-memory") {
		fs.Func("password-hash-memory", "argon2id memory of new password hashes, in KiB (default 19456)", func(v string) error {
			n, err := strconv.ParseUint(v, 10, 32)
			c.PasswordHashMemoryKiB = uint32(n)
			return err
		})
	}
	if def("smtp-insecure") {
		fs.BoolVar(&c.SMTPInsecure, "smtp-insecure", c.SMTPInsecure, "allow an SMTP relay without STARTTLS (development only)")
		fs.BoolVar(&c.SMTPTLS, "smtp-tls", c.SMTPTLS, "connect to the SMTP relay with TLS from the first byte (port 465) instead of STARTTLS")
	}
	if def("sms-log") {
		fs.BoolVar(&c.SMSLog, "sms-log", c.SMSLog, "send SMS codes to the log instead of a provider (development)")
		fs.BoolVar(&c.SMSLogCodes, "sms-log-codes", c.SMSLogCodes, "with --sms-log, write the codes themselves to the log (development only)")
	}
	if def("password-hash-concurrency") {
		fs.IntVar(&c.PasswordHashConcurrency, "password-hash-concurrency", c.PasswordHashConcurrency, "password hashes computed at once; 0 = one per core, within a quarter of GOMEMLIMIT")
	}
	if def("nats-url") {
		fs.StringVar(&c.NatsURL, "nats-url", c.NatsURL, "NATS server with JetStream to relay events to, as nats://HOST:4222 (env ATRIUM_NATS_URL)")
	}
	if def("event-retention") {
		fs.DurationVar(&c.EventRetention, "event-retention", c.EventRetention, "how long delivered events stay readable at GET /v1/events")
	}
	if def("audit-key") {
		fs.StringVar(&c.AuditSigningKey, "audit-key", c.AuditSigningKey, "base64 Ed25519 seed that signs audit checkpoints; default one kept in the database (env ATRIUM_AUDIT_SIGNING_KEY)")
	}
	if def("audit-checkpoints") {
		fs.DurationVar(&c.AuditCheckpoints, "audit-checkpoints", c.AuditCheckpoints, "how often the audit chain's head is signed")
	}
	if def("webhook-allow-private") {
		fs.BoolVar(&c.WebhookAllowPrivate, "webhook-allow-private", c.WebhookAllowPrivate, "let webhooks target loopback and private addresses (tests and closed networks only)")
	}
	if def("siwe-chains") {
		fs.Func("siwe-chains", "comma-separated EIP-155 chain IDs Sign-In with Ethereum accepts (default 1)", func(v string) error {
			ids, err := parseChainIDs(v)
			c.SIWEChains = ids
			return err
		})
	}
	if def("eth-rpc") {
		fs.Func("eth-rpc", "CHAIN=URL: JSON-RPC endpoint that verifies contract wallets on a chain; repeatable", func(v string) error {
			e, err := parseEthRPC(v)
			c.EthRPC = append(c.EthRPC, e)
			return err
		})
	}
	if def("webauthn-rp-id") {
		fs.StringVar(&c.WebAuthnRPID, "webauthn-rp-id", c.WebAuthnRPID, "WebAuthn relying party ID of passkeys; default the public URL's host (env ATRIUM_WEBAUTHN_RP_ID)")
	}
	if def("webauthn-origin") {
		fs.Func("webauthn-origin", "origin passkey ceremonies may come from, such as https://id.example.com; repeatable; default the public URL's origin (env ATRIUM_WEBAUTHN_ORIGINS, comma-separated)", func(v string) error {
			c.WebAuthnOrigins = append(c.WebAuthnOrigins, v)
			return nil
		})
	}
	if def("max-concurrency") {
		fs.Func("max-concurrency", "adaptive limit on requests running at once, INITIAL/MIN/MAX, or one number for the maximum; 0 turns load shedding off (default "+c.Concurrency.String()+")", func(v string) error {
			cc, err := parseConcurrency(v)
			c.Concurrency = cc
			return err
		})
	}
	if def("shed-queue") {
		fs.IntVar(&c.ShedQueue, "shed-queue", c.ShedQueue, "requests that may wait for a slot when the concurrency limit is reached; the rest are shed with 503 or 429")
	}
	if def("max-event-streams") {
		fs.IntVar(&c.MaxEventStreams, "max-event-streams", c.MaxEventStreams, "server-sent event streams served at once; more are refused with 503 and Retry-After; 0 = no limit")
		fs.IntVar(&c.MaxEventStreamsPerKey, "max-event-streams-per-key", c.MaxEventStreamsPerKey, "server-sent event streams one API key may hold at once; 0 = no limit but --max-event-streams")
	}
	if def("request-timeout") {
		fs.DurationVar(&c.RequestTimeout, "request-timeout", c.RequestTimeout, "time budget of each API request, database calls included")
	}
	if def("ens-chain") {
		fs.Uint64Var(&c.ENSChain, "ens-chain", c.ENSChain, "chain ID of the ENS registry; ENS names are on when it has an --eth-rpc endpoint")
	}
	if def("ens-universal-resolver") {
		fs.StringVar(&c.ENSResolver, "ens-universal-resolver", c.ENSResolver, "address of the ENS Universal Resolver (default mainnet's)")
	}
	if def("ens-ttl") {
		fs.DurationVar(&c.ENSTTL, "ens-ttl", c.ENSTTL, "how long a verified ENS name stands before it is verified again")
	}
	if def("ens-ccip-read") {
		fs.BoolVar(&c.CCIPRead, "ens-ccip-read", c.CCIPRead, "follow EIP-3668 CCIP-Read to the gateways of --ens-ccip-hosts (off by default)")
	}
	if def("ens-ccip-hosts") {
		fs.Func("ens-ccip-hosts", "comma-separated host names of the https CCIP-Read gateways ENS resolution may fetch", func(v string) error {
			for h := range strings.SplitSeq(v, ",") {
				c.CCIPHosts = append(c.CCIPHosts, strings.ToLower(strings.TrimSpace(h)))
			}
			return nil
		})
	}
	if def("cache-size") {
		fs.Int64Var(&c.CacheBytes, "cache-size", c.CacheBytes, "memory budget of the read cache in bytes; 0 turns it off")
	}
	if def("cache-max-staleness") {
		fs.DurationVar(&c.CacheMaxStaleness, "cache-max-staleness", c.CacheMaxStaleness, "how old a read without a freshness token may be (cache and replica)")
	}
	if def("redis-url") {
		fs.StringVar(&c.RedisURL, "redis-url", c.RedisURL, "Redis or Valkey shared by the replicas as the read cache's second level, as redis://HOST:6379/0 (env ATRIUM_REDIS_URL)")
	}
	if def("redis-prefix") {
		fs.StringVar(&c.RedisPrefix, "redis-prefix", c.RedisPrefix, "prefix of every Redis key this deployment writes")
	}
	if def("database-replica") {
		fs.StringVar(&c.DatabaseReplica, "database-replica", c.DatabaseReplica, "PostgreSQL streaming replica for reads without a freshness token, postgres://… (env ATRIUM_DATABASE_REPLICA_URL)")
	}
	if def("max-body-bytes") {
		fs.Int64Var(&c.MaxBodyBytes, "max-body-bytes", c.MaxBodyBytes, "largest request body accepted")
	}
	return fs
}

// FromEnv overlays the environment variables that are set onto c.
func (c *Config) FromEnv(getenv func(string) string) {
	for flagName, key := range env {
		v := getenv(key)
		if v == "" {
			continue
		}
		switch flagName {
		case "database":
			c.Database = v
		case "listen":
			c.Listen = v
		case "public-url":
			c.PublicURL = v
		case "kinds":
			c.KindsFile = v
		case "encryption-keys":
			c.EncryptionKeys = v
		case "log-level":
			c.LogLevel = v
		case "smtp-addr":
			c.SMTPAddr = v
		case "smtp-from":
			c.SMTPFrom = v
		case "nats-url":
			c.NatsURL = v
		case "audit-key":
			c.AuditSigningKey = v
		case "webauthn-rp-id":
			c.WebAuthnRPID = v
		case "webauthn-origin":
			c.WebAuthnOrigins = strings.Split(v, ",")
		case "redis-url":
			c.RedisURL = v
		case "database-replica":
			c.DatabaseReplica = v
		}
	}
}

// Validate checks c and fills derived values (the public URL).
func (c *Config) Validate() error {
	if !strings.HasPrefix(c.Database, "sqlite:") && !strings.HasPrefix(c.Database, "postgres://") && !strings.HasPrefix(c.Database, "postgresql://") {
		return fmt.Errorf("--database must be sqlite://PATH or postgres://…")
	}
	host, port, err := net.SplitHostPort(c.Listen)
	if err != nil {
		return fmt.Errorf("--listen must be host:port: %v", err)
	}
	if c.PublicURL == "" {
		if host == "" || host == "0.0.0.0" || host == "::" {
			host = "localhost"
		}
		c.PublicURL = "http://" + net.JoinHostPort(host, port)
	}
	u, err := url.Parse(c.PublicURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("--public-url must be an absolute http(s) URL")
	}
	if c.MaxBodyBytes < 1024 {
		return fmt.Errorf("--max-body-bytes must be at least 1024")
	}
	if c.PasswordHashMemoryKiB < 8 || c.PasswordHashMemoryKiB > 1<<21 || c.PasswordHashTime < 1 || c.PasswordHashTime > 64 {
		return fmt.Errorf("--password-hash-memory must be 8 to 2097152 KiB and the hash time 1 to 64 passes")
	}
	if c.PasswordHashConcurrency < 0 || c.PasswordHashConcurrency > 4096 {
		return fmt.Errorf("--password-hash-concurrency must be 0 to 4096")
	}
	if c.SMTPAddr != "" {
		if _, _, err := net.SplitHostPort(c.SMTPAddr); err != nil || c.SMTPFrom == "" {
			return fmt.Errorf("--smtp-addr must be host:port, and --smtp-from is required with it")
		}
	}
	if c.NatsURL != "" && !strings.HasPrefix(c.NatsURL, "nats://") && !strings.HasPrefix(c.NatsURL, "tls://") {
		return fmt.Errorf("--nats-url must start with nats:// or tls://")
	}
	if c.EventRetention < time.Minute {
		return fmt.Errorf("--event-retention must be at least 1m")
	}
	if c.AuditCheckpoints < time.Second {
		return fmt.Errorf("--audit-checkpoints must be at least 1s")
	}
	if err := c.validateAdmission(); err != nil {
		return err
	}
	if err := c.validateReadPath(); err != nil {
		return err
	}
	if err := c.validateChains(); err != nil {
		return err
	}
	if err := c.validateWebAuthn(u); err != nil {
		return err
	}
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		return fmt.Errorf("--log-level must be debug, info, warn or error")
	}
	return nil
}

// maxConcurrency bounds every number of --max-concurrency and --shed-queue.
const maxConcurrency = 100_000

// parseConcurrency reads "INITIAL/MIN/MAX", or "MAX" alone, keeping the
// default start and floor below it.
func parseConcurrency(v string) (Concurrency, error) {
	var n []int
	for f := range strings.SplitSeq(v, "/") {
		x, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || x < 0 || x > maxConcurrency {
			return Concurrency{}, fmt.Errorf("--max-concurrency takes INITIAL/MIN/MAX or MAX, numbers from 0 to %d", maxConcurrency)
		}
		n = append(n, x)
	}
	switch len(n) {
	case 1:
		d := Default().Concurrency
		return Concurrency{Initial: min(d.Initial, n[0]), Min: min(d.Min, n[0]), Max: n[0]}, nil
	case 3:
		return Concurrency{Initial: n[0], Min: n[1], Max: n[2]}, nil
	}
	return Concurrency{}, fmt.Errorf("--max-concurrency takes INITIAL/MIN/MAX or MAX")
}

// validateAdmission checks the load-shedding settings.
func (c *Config) validateAdmission() error {
	cc := c.Concurrency
	if cc.Max != 0 && (cc.Min < 1 || cc.Min > cc.Initial || cc.Initial > cc.Max || cc.Max > maxConcurrency) {
		return fmt.Errorf("--max-concurrency must satisfy 1 <= MIN <= INITIAL <= MAX <= %d, or be 0", maxConcurrency)
	}
	if c.ShedQueue < 0 || c.ShedQueue > maxConcurrency {
		return fmt.Errorf("--shed-queue must be 0 to %d", maxConcurrency)
	}
	if c.MaxEventStreams < 0 || c.MaxEventStreams > maxConcurrency || c.MaxEventStreamsPerKey < 0 || c.MaxEventStreamsPerKey > maxConcurrency {
		return fmt.Errorf("--max-event-streams and --max-event-streams-per-key must be 0 to %d", maxConcurrency)
	}
	if c.RequestTimeout < 10*time.Millisecond || c.RequestTimeout > time.Hour {
		return fmt.Errorf("--request-timeout must be 10ms to 1h")
	}
	return nil
}

// parseChainIDs reads "1,10,8453".
func parseChainIDs(v string) ([]uint64, error) {
	var ids []uint64
	for f := range strings.SplitSeq(v, ",") {
		id, err := strconv.ParseUint(strings.TrimSpace(f), 10, 64)
		if err != nil || id == 0 {
			return nil, fmt.Errorf("chain IDs must be positive decimal numbers")
		}
		ids = append(ids, id)
	}
	return ids, nil
}

// parseEthRPC reads "CHAIN=URL".
func parseEthRPC(v string) (EthRPC, error) {
	id, u, ok := strings.Cut(v, "=")
	n, err := strconv.ParseUint(id, 10, 64)
	if !ok || err != nil || n == 0 {
		return EthRPC{}, fmt.Errorf("--eth-rpc must be CHAIN=URL with a positive chain ID")
	}
	return EthRPC{ChainID: n, URL: u}, nil
}

// validateChains checks the wallet sign-in settings. Endpoint URLs are
// never repeated in errors: they often hold API keys.
func (c *Config) validateChains() error {
	if len(c.SIWEChains) == 0 {
		return fmt.Errorf("--siwe-chains must list at least one chain ID")
	}
	seen := map[uint64]bool{}
	for _, e := range c.EthRPC {
		u, err := url.Parse(e.URL)
		if e.ChainID == 0 || err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fmt.Errorf("--eth-rpc for chain %d must be an http or https URL", e.ChainID)
		}
		if seen[e.ChainID] {
			return fmt.Errorf("--eth-rpc names chain %d twice", e.ChainID)
		}
		seen[e.ChainID] = true
	}
	return c.validateENS()
}

// validateENS checks the ENS settings.
func (c *Config) validateENS() error {
	if c.ENSTTL < time.Minute {
		return fmt.Errorf("--ens-ttl must be at least 1m")
	}
	if c.CCIPRead && len(c.CCIPHosts) == 0 {
		return fmt.Errorf("--ens-ccip-read needs --ens-ccip-hosts")
	}
	for _, h := range c.CCIPHosts {
		if h == "" || strings.ContainsAny(h, "/:@*") {
			return fmt.Errorf("--ens-ccip-hosts must list host names, without scheme, port or wildcard")
		}
	}
	return nil
}

// validateWebAuthn fills the passkey relying party from the public URL u
// where it is not configured, and checks that every origin is an http(s)
// origin whose host is the relying party ID or under it (WebAuthn L2
// §5.1.3 step 8: the RP ID must be a registrable suffix of the origin's
// effective domain). A relying party ID cannot be an IP address: a public
// URL on one leaves WebAuthnRPID empty, and passkeys off, unless an ID is
// configured.
func (c *Config) validateWebAuthn(u *url.URL) error {
	if c.WebAuthnRPID == "" {
		if net.ParseIP(u.Hostname()) != nil && len(c.WebAuthnOrigins) == 0 {
			return nil
		}
		c.WebAuthnRPID = u.Hostname()
	}
	if len(c.WebAuthnOrigins) == 0 {
		c.WebAuthnOrigins = []string{u.Scheme + "://" + u.Host}
	}
	rp := strings.ToLower(c.WebAuthnRPID)
	if rp == "" || strings.ContainsAny(rp, ":/ []") || net.ParseIP(rp) != nil {
		return fmt.Errorf("--webauthn-rp-id must be a domain name, such as id.example.com")
	}
	for i, o := range c.WebAuthnOrigins {
		o = strings.TrimSpace(o)
		ou, err := url.Parse(o)
		if err != nil || (ou.Scheme != "http" && ou.Scheme != "https") || ou.Host == "" || (ou.Path != "" && ou.Path != "/") || ou.RawQuery != "" {
			return fmt.Errorf("--webauthn-origin must be an http(s) origin such as https://id.example.com")
		}
		h := strings.ToLower(ou.Hostname())
		if h != rp && !strings.HasSuffix(h, "."+rp) {
			return fmt.Errorf("--webauthn-origin %s is not on the relying party ID %s", ou.Host, rp)
		}
		c.WebAuthnOrigins[i] = ou.Scheme + "://" + ou.Host
	}
	c.WebAuthnRPID = rp
	return nil
}

// validateReadPath checks the cache and replica settings. URLs are never
// repeated in errors: they may hold passwords.
func (c *Config) validateReadPath() error {
	if c.CacheBytes < 0 {
		return fmt.Errorf("--cache-size must not be negative")
	}
	if c.CacheMaxStaleness < 10*time.Millisecond || c.CacheMaxStaleness > time.Hour {
		return fmt.Errorf("--cache-max-staleness must be between 10ms and 1h")
	}
	if c.RedisURL != "" {
		if !strings.HasPrefix(c.RedisURL, "redis://") && !strings.HasPrefix(c.RedisURL, "rediss://") && !strings.HasPrefix(c.RedisURL, "unix://") {
			return fmt.Errorf("--redis-url must start with redis://, rediss:// or unix://")
		}
		if c.CacheBytes == 0 {
			return fmt.Errorf("--redis-url needs the read cache: set --cache-size above 0")
		}
	}
	if c.DatabaseReplica != "" {
		if !strings.HasPrefix(c.DatabaseReplica, "postgres://") && !strings.HasPrefix(c.DatabaseReplica, "postgresql://") {
			return fmt.Errorf("--database-replica must be a postgres:// URL")
		}
		if !strings.HasPrefix(c.Database, "postgres") {
			return fmt.Errorf("--database-replica needs a PostgreSQL --database")
		}
	}
	return nil
}
