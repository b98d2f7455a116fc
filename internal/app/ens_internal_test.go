package app

import (
	"testing"
	"time"

	"github.com/atriumid/atrium/internal/chain/ethrpc"
	"github.com/atriumid/atrium/internal/config"
)

// ENS names are on only with an endpoint on the ENS chain, and a bad
// Universal Resolver address stops the start; re-verification looks for
// due names a 24th of the TTL apart, between a minute and an hour.
func TestENSSettings(t *testing.T) {
	client, err := ethrpc.New(ethrpc.Config{Endpoints: []ethrpc.Endpoint{{ChainID: 1, URL: "https://rpc.example"}}})
	if err != nil {
		t.Fatal(err)
	}
	cfg := config.Default()
	if r, err := ensResolver(cfg, client); r != nil || err != nil {
		t.Errorf("ensResolver(no endpoint) = %v, %v, want off", r, err)
	}
	cfg.EthRPC = []config.EthRPC{{ChainID: 1, URL: "https://rpc.example"}}
	if r, err := ensResolver(cfg, client); r == nil || err != nil {
		t.Errorf("ensResolver(endpoint on chain 1) = %v, %v, want a resolver", r, err)
	}
	cfg.ENSResolver = "0xnot-an-address"
	if _, err := ensResolver(cfg, client); err == nil {
		t.Errorf("ensResolver(bad Universal Resolver address) = nil error")
	}
	for ttl, want := range map[time.Duration]time.Duration{time.Minute: time.Minute, 24 * time.Hour: time.Hour, 12 * time.Hour: 30 * time.Minute, 30 * 24 * time.Hour: time.Hour} {
		if got := ensInterval(ttl); got != want {
			t.Errorf("ensInterval(%v) = %v, want %v", ttl, got, want)
		}
	}
}
