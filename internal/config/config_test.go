package config

import (
	"io"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestWalletFlags(t *testing.T) {
	c := Default()
	fs := c.FlagSet("serve", io.Discard)
	args := []string{"--siwe-chains", "1, 10,8453", "--eth-rpc", "1=https://rpc.example/key", "--eth-rpc", "10=http://127.0.0.1:8545"}
	if err := fs.Parse(args); err != nil {
		t.Fatalf("Parse(%q) = %v", args, err)
	}
	if err := c.Validate(); err != nil {
		t.Fatalf("Validate() = %v", err)
	}
	if diff := cmp.Diff([]uint64{1, 10, 8453}, c.SIWEChains); diff != "" {
		t.Errorf("SIWEChains (-want +got):\n%s", diff)
	}
	want := []EthRPC{{1, "https://rpc.example/key"}, {10, "http://127.0.0.1:8545"}}
	if diff := cmp.Diff(want, c.EthRPC); diff != "" {
		t.Errorf("EthRPC (-want +got):\n%s", diff)
	}
	if d := Default(); len(d.SIWEChains) != 1 || d.SIWEChains[0] != 1 {
		t.Errorf("Default().SIWEChains = %v, want [1]", d.SIWEChains)
	}
}

func TestWalletFlagsRefused(t *testing.T) {
	for _, args := range [][]string{
		{"--siwe-chains", "0"}, {"--siwe-chains", "x"}, {"--siwe-chains", ""},
		{"--eth-rpc", "1"}, {"--eth-rpc", "0=https://a"}, {"--eth-rpc", "a=https://a"},
	} {
		c := Default()
		if err := c.FlagSet("serve", io.Discard).Parse(args); err == nil {
			t.Errorf("Parse(%q) = nil, want an error", args)
		}
	}
	for _, rpc := range [][]EthRPC{
		{{1, "ftp://a"}}, {{1, "https://"}}, {{1, "https://a"}, {1, "https://b"}},
	} {
		c := Default()
		c.EthRPC = rpc
		if err := c.Validate(); err == nil {
			t.Errorf("Validate() with EthRPC %v = nil, want an error", rpc)
		}
	}
	c := Default()
	c.SIWEChains = nil
	if err := c.Validate(); err == nil {
		t.Errorf("Validate() without SIWE chains = nil, want an error")
	}
}

func TestWebAuthnDefaultsFromPublicURL(t *testing.T) {
	c := Default()
	c.PublicURL = "https://ID.example.com:8443/base"
	if err := c.Validate(); err != nil {
		t.Fatalf("Validate() = %v", err)
	}
	if c.WebAuthnRPID != "id.example.com" || !cmp.Equal(c.WebAuthnOrigins, []string{"https://ID.example.com:8443"}) {
		t.Errorf("WebAuthn = %q %q, want id.example.com and the public URL's origin", c.WebAuthnRPID, c.WebAuthnOrigins)
	}
	c = Default()
	c.Listen = "127.0.0.1:8080"
	if err := c.Validate(); err != nil || c.WebAuthnRPID != "" {
		t.Errorf("Validate() on an IP public URL = %v, RP ID %q; want passkeys off", err, c.WebAuthnRPID)
	}
}

func TestWebAuthnFlags(t *testing.T) {
	c := Default()
	args := []string{"--webauthn-rp-id", "example.com", "--webauthn-origin", "https://id.example.com", "--webauthn-origin", "https://example.com:8443/"}
	if err := c.FlagSet("serve", io.Discard).Parse(args); err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(); err != nil {
		t.Fatalf("Validate() = %v", err)
	}
	if diff := cmp.Diff([]string{"https://id.example.com", "https://example.com:8443"}, c.WebAuthnOrigins); diff != "" {
		t.Errorf("WebAuthnOrigins (-want +got):\n%s", diff)
	}
	for _, bad := range []struct {
		rp      string
		origins []string
	}{
		{"127.0.0.1", nil}, {"https://example.com", nil}, {"example.com", []string{"https://evil.com"}},
		{"example.com", []string{"https://notexample.com"}}, {"example.com", []string{"ftp://example.com"}},
		{"example.com", []string{"https://example.com/path"}},
	} {
		c := Default()
		c.WebAuthnRPID, c.WebAuthnOrigins = bad.rp, bad.origins
		if err := c.Validate(); err == nil {
			t.Errorf("Validate() with RP ID %q and origins %q = nil, want an error", bad.rp, bad.origins)
		}
	}
}

func TestAdmissionFlags(t *testing.T) {
	for _, tc := range []struct {
		args  []string
		want  Concurrency
		queue int
	}{
		{nil, Concurrency{32, 8, 512}, 256},
		{[]string{"--max-concurrency", "16/2/64", "--shed-queue", "8"}, Concurrency{16, 2, 64}, 8},
		{[]string{"--max-concurrency", "128"}, Concurrency{32, 8, 128}, 256},
		{[]string{"--max-concurrency", "2"}, Concurrency{2, 2, 2}, 256},
		{[]string{"--max-concurrency", "0", "--shed-queue", "0"}, Concurrency{0, 0, 0}, 0},
	} {
		c := Default()
		if err := c.FlagSet("serve", io.Discard).Parse(tc.args); err != nil {
			t.Fatalf("Parse(%q) = %v", tc.args, err)
		}
		if err := c.Validate(); err != nil {
			t.Fatalf("Validate() after %q = %v", tc.args, err)
		}
		if c.Concurrency != tc.want || c.ShedQueue != tc.queue {
			t.Errorf("after %q: Concurrency %v, ShedQueue %d; want %v, %d", tc.args, c.Concurrency, c.ShedQueue, tc.want, tc.queue)
		}
	}
}

func TestEventStreamFlags(t *testing.T) {
	for _, tc := range []struct {
		args          []string
		total, perKey int
		valid         bool
	}{
		{nil, 256, 64, true},
		{[]string{"--max-event-streams", "8", "--max-event-streams-per-key", "2"}, 8, 2, true},
		{[]string{"--max-event-streams", "0", "--max-event-streams-per-key", "0"}, 0, 0, true},
		{[]string{"--max-event-streams", "-1"}, -1, 64, false},
		{[]string{"--max-event-streams-per-key", "100001"}, 256, 100001, false},
	} {
		c := Default()
		if err := c.FlagSet("serve", io.Discard).Parse(tc.args); err != nil {
			t.Fatalf("Parse(%q) = %v", tc.args, err)
		}
		if err := c.Validate(); (err == nil) != tc.valid {
			t.Errorf("Validate() after %q = %v, want valid %v", tc.args, err, tc.valid)
		}
		if c.MaxEventStreams != tc.total || c.MaxEventStreamsPerKey != tc.perKey {
			t.Errorf("after %q: MaxEventStreams %d, per key %d; want %d, %d", tc.args, c.MaxEventStreams, c.MaxEventStreamsPerKey, tc.total, tc.perKey)
		}
	}
}

func TestAdmissionFlagsRefused(t *testing.T) {
	for _, args := range [][]string{
		{"--max-concurrency", "x"}, {"--max-concurrency", "-1"}, {"--max-concurrency", "1/2"},
		{"--max-concurrency", "1/2/3/4"}, {"--max-concurrency", "200000"}, {"--request-timeout", "soon"},
	} {
		c := Default()
		if err := c.FlagSet("serve", io.Discard).Parse(args); err == nil {
			t.Errorf("Parse(%q) = nil, want an error", args)
		}
	}
	for _, args := range [][]string{
		{"--max-concurrency", "8/16/32"}, {"--max-concurrency", "64/4/32"}, {"--max-concurrency", "4/0/8"},
		{"--shed-queue", "-1"}, {"--request-timeout", "1ms"}, {"--request-timeout", "2h"},
	} {
		c := Default()
		if err := c.FlagSet("serve", io.Discard).Parse(args); err != nil {
			t.Fatalf("Parse(%q) = %v", args, err)
		}
		if err := c.Validate(); err == nil {
			t.Errorf("Validate() after %q = nil, want an error", args)
		}
	}
}

// ENS settings: on through an endpoint on the ENS chain, a TTL of at least
// a minute, and CCIP-Read only with a host allowlist.
func TestENSFlags(t *testing.T) {
	c := Default()
	if c.ENSChain != 1 || c.ENSTTL != 24*time.Hour || c.CCIPRead {
		t.Errorf("Default() ENS = chain %d, TTL %v, CCIP-Read %v, want 1, 24h, off", c.ENSChain, c.ENSTTL, c.CCIPRead)
	}
	args := []string{"--ens-chain", "11155111", "--ens-ttl", "1h", "--ens-ccip-read", "--ens-ccip-hosts", "ccip.example, GW.example",
		"--ens-universal-resolver", "0xeEeEEEeE14D718C2B47D9923Deab1335E144EeEe"}
	if err := c.FlagSet("serve", io.Discard).Parse(args); err != nil {
		t.Fatalf("Parse(%q) = %v", args, err)
	}
	if err := c.Validate(); err != nil {
		t.Fatalf("Validate() = %v", err)
	}
	if diff := cmp.Diff([]string{"ccip.example", "gw.example"}, c.CCIPHosts); diff != "" || c.ENSChain != 11155111 || c.ENSTTL != time.Hour || !c.CCIPRead {
		t.Errorf("ENS settings = %+v (hosts -want +got:\n%s)", c, diff)
	}
	for name, edit := range map[string]func(*Config){
		"short TTL":            func(c *Config) { c.ENSTTL = time.Second },
		"CCIP-Read, no hosts":  func(c *Config) { c.CCIPRead = true },
		"host with a scheme":   func(c *Config) { c.CCIPRead, c.CCIPHosts = true, []string{"https://gw.example"} },
		"host with a port":     func(c *Config) { c.CCIPHosts = []string{"gw.example:443"} },
		"wildcard host":        func(c *Config) { c.CCIPHosts = []string{"*.example"} },
		"empty host in a list": func(c *Config) { c.CCIPHosts = []string{"gw.example", ""} },
	} {
		c := Default()
		edit(&c)
		if err := c.Validate(); err == nil {
			t.Errorf("Validate() with %s = nil, want an error", name)
		}
	}
}

func TestReadPathFlags(t *testing.T) {
	c := Default()
	args := []string{"--database", "postgres://db/atrium", "--cache-size", "1048576", "--cache-max-staleness", "500ms",
		"--redis-url", "redis://127.0.0.1:6379/0", "--redis-prefix", "p:", "--database-replica", "postgres://replica/atrium"}
	if err := c.FlagSet("serve", io.Discard).Parse(args); err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(); err != nil {
		t.Fatalf("Validate() = %v", err)
	}
	if c.CacheBytes != 1<<20 || c.CacheMaxStaleness.String() != "500ms" || c.RedisURL == "" || c.RedisPrefix != "p:" || c.DatabaseReplica == "" {
		t.Errorf("read path settings not taken: %+v", c)
	}
	if d := Default(); d.CacheMaxStaleness.String() != "2s" || d.CacheBytes <= 0 {
		t.Errorf("defaults: staleness %v, cache %d; want 2s and a cache", d.CacheMaxStaleness, d.CacheBytes)
	}
	for _, bad := range [][]string{
		{"--cache-size", "-1"}, {"--cache-max-staleness", "1ms"}, {"--redis-url", "http://x"},
		{"--cache-size", "0", "--redis-url", "redis://x"}, {"--database-replica", "postgres://r"}, // SQLite primary
		{"--database", "postgres://p", "--database-replica", "mysql://r"},
	} {
		c := Default()
		if err := c.FlagSet("serve", io.Discard).Parse(bad); err != nil {
			continue
		}
		if err := c.Validate(); err == nil {
			t.Errorf("Validate() after %q = nil, want an error", bad)
		}
	}
}
