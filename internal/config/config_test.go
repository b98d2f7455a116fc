package config

import (
	"io"
	"testing"

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
