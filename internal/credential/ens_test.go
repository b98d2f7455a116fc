package credential_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http/httptest"
	"slices"
	"testing"
	"time"

	"github.com/atriumid/atrium/internal/account"
	"github.com/atriumid/atrium/internal/chain"
	"github.com/atriumid/atrium/internal/chain/ens"
	"github.com/atriumid/atrium/internal/chain/ens/enstest"
	"github.com/atriumid/atrium/internal/chain/ethrpc"
	"github.com/atriumid/atrium/internal/credential"
	"github.com/atriumid/atrium/internal/fault"
	"github.com/atriumid/atrium/internal/session"
)

// withENS gives e wallet sign-in with ENS names over the canned chain.
func (e *env) withENS(t *testing.T, c *enstest.FakeChain) {
	t.Helper()
	srv := httptest.NewServer(c)
	t.Cleanup(srv.Close)
	client, err := ethrpc.New(ethrpc.Config{Endpoints: []ethrpc.Endpoint{{ChainID: 1, URL: srv.URL}}})
	if err != nil {
		t.Fatal(err)
	}
	e.cfg.Wallets = &credential.WalletConfig{Store: e.db.Wallets(), Origin: "https://id.example.org", URI: "https://id.example.org",
		ChainIDs: []uint64{1}, ENS: ens.NewResolver(client, 1, chain.Address{0x0e, 0x45}), ENSChainID: 1}
	if e.svc, err = credential.NewService(e.cfg); err != nil {
		t.Fatal(err)
	}
}

// ensAccount gives e ENS names over a fake chain with the given records,
// and returns the chain and an AAL1 session of a new user.
func (e *env) ensAccount(t *testing.T, forward map[string]chain.Address, reverse map[chain.Address]string) (*enstest.FakeChain, session.Session) {
	t.Helper()
	c := &enstest.FakeChain{Forward: forward, Reverse: reverse}
	e.withENS(t, c)
	return c, session.Session{AccountID: e.register(t).ID, AAL: session.AAL1}
}

// holdWallet adds the wallet identifier key to account id.
func (e *env) holdWallet(t *testing.T, id, key string) {
	t.Helper()
	err := e.db.Accounts().Update(context.Background(), func(ctx context.Context, tx account.Tx) error {
		return tx.InsertIdentifier(ctx, account.IdentifierRecord{Type: "wallet", Value: key, AccountID: id, CreateTime: e.clock.Now()})
	})
	if err != nil {
		t.Fatal(err)
	}
}

// ensEvents returns the reasons of the atrium.identifier.ens_changed
// events about id.
func (e *env) ensEvents(t *testing.T, id string) []string {
	t.Helper()
	recs, err := e.db.Events().After(context.Background(), 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	var reasons []string
	for _, r := range recs {
		if r.Subject == id && r.Type == "atrium.identifier.ens_changed" {
			var d struct{ Reason string }
			json.Unmarshal(r.Data, &d)
			reasons = append(reasons, d.Reason)
		}
	}
	return reasons
}

// an ENS name is accepted only when its address is a wallet of the account
// and that address's primary name is the name; it is stored normalised,
// with its verify time, and never signs in.
func TestVerifyENS(t *testing.T) {
	alice, bob, mallory := chain.Address{0xa1}, chain.Address{0xb0}, chain.Address{0x3a}
	forEachEngine(t, func(t *testing.T, e *env) {
		c, sess := e.ensAccount(t, map[string]chain.Address{"alice.eth": alice, "bob.eth": bob, "stolen.eth": mallory},
			map[chain.Address]string{alice: "alice.eth", bob: "other.eth", mallory: "alice.eth"})
		ctx := context.Background()
		acc := &account.Account{ID: sess.AccountID}
		e.holdWallet(t, acc.ID, chain.AccountID{Address: alice}.Key(chain.KeyControl))
		e.holdWallet(t, acc.ID, chain.AccountID{ChainID: 1, Address: bob}.Key(chain.ContractControl))

		tests := []struct {
			name, input string
			kind        fault.Kind
			cause       error
		}{
			{"not normalisable", "te--st.eth", fault.Invalid, nil},
			{"no address", "nobody.eth", fault.NotFound, ens.ErrNoAddress},
			{"address not held", "stolen.eth", fault.FailedPrecondition, credential.ErrENSDisagrees},
			{"primary name differs", "bob.eth", fault.FailedPrecondition, credential.ErrENSDisagrees},
		}
		for _, tt := range tests {
			if _, err := e.svc.VerifyENS(ctx, sess, tt.input); !fault.Is(err, tt.kind) || (tt.cause != nil && !errors.Is(err, tt.cause)) {
				t.Errorf("%s: VerifyENS(%q) = %v, want kind %v cause %v", tt.name, tt.input, err, tt.kind, tt.cause)
			}
		}
		got, err := e.svc.VerifyENS(ctx, sess, "ALICE.eth")
		if err != nil || got.Name != "alice.eth" || got.Address != alice || !got.VerifyTime.Equal(e.clock.Now()) {
			t.Fatalf("VerifyENS(ALICE.eth) = %+v, %v, want alice.eth at %v", got, err, alice)
		}
		found, err := e.accounts.Get(ctx, acc.ID, nil)
		if err != nil {
			t.Fatal(err)
		}
		var ident *account.Identifier
		for i := range found.Identifiers {
			if found.Identifiers[i].Type == "ens" {
				ident = &found.Identifiers[i]
			}
		}
		if ident == nil || ident.Value != "alice.eth" || !ident.VerifyTime.Equal(e.clock.Now()) {
			t.Errorf("account identifiers = %+v, want ens alice.eth verified now", found.Identifiers)
		}

		otherAcc, err := e.svc.Register(ctx, credential.RegisterRequest{Kind: "user", Identifier: account.IdentifierInput{Type: "email", Value: "other@example.com"}, Password: pw})
		if err != nil {
			t.Fatal(err)
		}
		other := session.Session{AccountID: otherAcc.AccountID, AAL: session.AAL1}
		if _, err := e.svc.VerifyENS(ctx, other, "alice.eth"); !errors.Is(err, credential.ErrENSDisagrees) {
			t.Errorf("VerifyENS(alice.eth) by an account without the wallet = %v, want ErrENSDisagrees", err)
		}
		c.Set(func() { c.Down = true })
		if _, err := e.svc.VerifyENS(ctx, sess, "alice.eth"); !fault.Is(err, fault.Unavailable) {
			t.Errorf("VerifyENS with the chain down = %v, want Unavailable", err)
		}
	})
}

// names are verified again after the TTL; one whose records still
// agree gets a new verify time, one that changed is removed with an
// atrium.identifier.ens_changed event naming why, and a chain that cannot
// be asked removes nothing.
func TestReverifyENS(t *testing.T) {
	alice, bob, carol := chain.Address{0xa1}, chain.Address{0xb0}, chain.Address{0xc0}
	forEachEngine(t, func(t *testing.T, e *env) {
		c, sess := e.ensAccount(t, map[string]chain.Address{"alice.eth": alice, "bob.eth": bob, "carol.eth": carol},
			map[chain.Address]string{alice: "alice.eth", bob: "bob.eth", carol: "carol.eth"})
		ctx := context.Background()
		acc := &account.Account{ID: sess.AccountID}
		for _, a := range []chain.Address{alice, bob, carol} {
			e.holdWallet(t, acc.ID, chain.AccountID{Address: a}.Key(chain.KeyControl))
		}
		for _, n := range []string{"alice.eth", "bob.eth", "carol.eth"} {
			if _, err := e.svc.VerifyENS(ctx, sess, n); err != nil {
				t.Fatalf("VerifyENS(%s) = %v", n, err)
			}
		}
		const ttl = time.Hour
		if n, err := e.svc.ReverifyENS(ctx, ttl, 10); err != nil || n != 0 {
			t.Errorf("ReverifyENS before the TTL = %d, %v, want 0", n, err)
		}
		e.clock.Advance(ttl + time.Second)
		c.Set(func() { c.Down = true })
		if n, err := e.svc.ReverifyENS(ctx, ttl, 10); err != nil || n != 0 || len(e.ensEvents(t, acc.ID)) != 0 {
			t.Errorf("ReverifyENS with the chain down = %d, %v, events %v, want nothing settled", n, err, e.ensEvents(t, acc.ID))
		}
		c.Set(func() {
			c.Down = false
			c.Reverse[bob] = "someone.eth" // bob's primary name moved
			delete(c.Forward, "carol.eth") // carol.eth expired
		})
		if n, err := e.svc.ReverifyENS(ctx, ttl, 10); err != nil || n != 3 {
			t.Fatalf("ReverifyENS = %d, %v, want 3 settled", n, err)
		}
		reasons := e.ensEvents(t, acc.ID)
		if len(reasons) != 2 || !slices.Contains(reasons, "primary_differs") || !slices.Contains(reasons, "no_address") {
			t.Errorf("ens_changed reasons = %v, want primary_differs and no_address", reasons)
		}
		found, _ := e.accounts.Get(ctx, acc.ID, nil)
		var names []string
		for _, id := range found.Identifiers {
			if id.Type == "ens" {
				names = append(names, id.Value)
				if !id.VerifyTime.Equal(e.clock.Now()) {
					t.Errorf("%s verified at %v, want %v", id.Value, id.VerifyTime, e.clock.Now())
				}
			}
		}
		if len(names) != 1 || names[0] != "alice.eth" {
			t.Errorf("ENS names after re-verification = %v, want alice.eth", names)
		}
		// The wallet goes: its name goes at the next round.
		e.clock.Advance(ttl + time.Second)
		aal2 := session.Session{AccountID: acc.ID, AAL: session.AAL2, AuthTime: e.clock.Now()}
		if err := e.svc.UnlinkWallet(ctx, aal2, chain.AccountID{Address: alice}.Key(chain.KeyControl)); err != nil {
			t.Fatal(err)
		}
		if n, err := e.svc.ReverifyENS(ctx, ttl, 10); err != nil || n != 1 || !slices.Contains(e.ensEvents(t, acc.ID), "address_not_held") {
			t.Errorf("ReverifyENS after the wallet went = %d, %v, events %v, want address_not_held", n, err, e.ensEvents(t, acc.ID))
		}
	})
}
