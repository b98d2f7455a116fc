package app

import (
	"context"
	"slices"
	"time"

	"github.com/atriumid/atrium/internal/chain"
	"github.com/atriumid/atrium/internal/chain/ens"
	"github.com/atriumid/atrium/internal/config"
	"github.com/atriumid/atrium/internal/credential"
	"github.com/atriumid/atrium/internal/fault"
)

// ensBatch is how many ENS names one re-verification step checks.
const ensBatch = 100

// ensResolver returns the ENS resolver of cfg over client, or nil (ENS
// names off) when the ENS chain has no endpoint.
func ensResolver(cfg config.Config, client ens.Chain) (credential.ENSResolver, error) {
	if !slices.ContainsFunc(cfg.EthRPC, func(e config.EthRPC) bool { return e.ChainID == cfg.ENSChain }) {
		return nil, nil
	}
	universal := ens.MainnetUniversalResolver
	if cfg.ENSResolver != "" {
		a, err := chain.ParseAddress(cfg.ENSResolver)
		if err != nil {
			return nil, fault.E("app.ensResolver", fault.Invalid, "--ens-universal-resolver must be a 0x-prefixed address")
		}
		universal = a
	}
	r := ens.NewResolver(client, cfg.ENSChain, universal)
	if cfg.CCIPRead {
		r = r.WithCCIPRead(ens.CCIPConfig{Hosts: cfg.CCIPHosts})
	}
	return r, nil
}

// ensInterval is how often due ENS names are looked for: a 24th of the
// TTL, between a minute and an hour.
func ensInterval(ttl time.Duration) time.Duration {
	return min(max(ttl/24, time.Minute), time.Hour)
}

// startENS verifies ENS names again in the background when they are on:
// every ensInterval, the names verified more than --ens-ttl ago, in
// batches until none is due.
func (a *App) startENS(cfg config.Config, creds *credential.Service) {
	if creds == nil || !creds.ENSEnabled() {
		return
	}
	a.background(func(ctx context.Context) {
		every(ctx, ensInterval(cfg.ENSTTL), func(ctx context.Context) { reverifyENS(ctx, a, creds, cfg.ENSTTL) })
	})
}

// reverifyENS runs re-verification steps until a step settles less than a
// full batch (names the chain cannot be asked about now wait for the next
// interval) or fails.
func reverifyENS(ctx context.Context, a *App, creds *credential.Service, ttl time.Duration) {
	for {
		n, err := creds.ReverifyENS(ctx, ttl, ensBatch)
		if err != nil {
			a.log.Warn("ENS re-verification failed", "err", err)
		}
		if err != nil || n < ensBatch {
			return
		}
	}
}
