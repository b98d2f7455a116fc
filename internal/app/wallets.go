package app

import (
	"net/url"
	"strings"
	"time"

	"github.com/atriumid/atrium/internal/chain/ethrpc"
	"github.com/atriumid/atrium/internal/chain/wallet"
	"github.com/atriumid/atrium/internal/config"
	"github.com/atriumid/atrium/internal/credential"
	"github.com/atriumid/atrium/internal/sqlstore"
	"github.com/atriumid/atrium/internal/throttle"
)

// NoncePolicy limits the sign-in nonces one client address may ask for:
// 30 at once, then one per second doubling to one a minute, until the
// address has been quiet for a minute.
var NoncePolicy = throttle.Policies{
	Client: throttle.Policy{Free: 30, Base: time.Second, Max: time.Minute, Limit: 1000, Window: time.Minute},
}

// walletConfig builds the Sign-In with Ethereum settings: the relying
// party's origin and URI from the public URL, never from a request; the
// chains from configuration; and a contract-wallet verifier over the
// configured JSON-RPC endpoints, if any. Without a public URL or chains it
// returns nil, which leaves wallet sign-in off.
func walletConfig(cfg config.Config, db *sqlstore.DB) (*credential.WalletConfig, error) {
	u, err := url.Parse(cfg.PublicURL)
	if err != nil || u.Host == "" || len(cfg.SIWEChains) == 0 {
		return nil, nil // not validated (config.Validate sets both): wallet sign-in stays off
	}
	w := &credential.WalletConfig{
		Store:    db.Wallets(),
		Origin:   u.Scheme + "://" + u.Host,
		URI:      strings.TrimSuffix(cfg.PublicURL, "/"),
		ChainIDs: cfg.SIWEChains,
		Nonces:   throttle.New(db.Throttle(), NoncePolicy, nil),
	}
	if len(cfg.EthRPC) == 0 {
		return w, nil
	}
	var eps []ethrpc.Endpoint
	for _, e := range cfg.EthRPC {
		eps = append(eps, ethrpc.Endpoint{ChainID: e.ChainID, URL: e.URL})
		w.RPCChains = append(w.RPCChains, e.ChainID)
	}
	client, err := ethrpc.New(ethrpc.Config{Endpoints: eps})
	if err != nil {
		return nil, err
	}
	w.Verifier = wallet.NewVerifier(client)
	if w.ENS, err = ensResolver(cfg, client); err != nil {
		return nil, err
	}
	w.ENSChainID = cfg.ENSChain
	return w, nil
}
