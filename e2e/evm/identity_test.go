package evm

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/crypto"

	"github.com/atriumid/atrium/internal/account"
	"github.com/atriumid/atrium/internal/chain"
	"github.com/atriumid/atrium/internal/chain/abi"
	"github.com/atriumid/atrium/internal/chain/ens"
	"github.com/atriumid/atrium/internal/credential"
	"github.com/atriumid/atrium/internal/credential/password"
	"github.com/atriumid/atrium/internal/envelope"
	"github.com/atriumid/atrium/internal/fault"
	"github.com/atriumid/atrium/internal/freshness"
	"github.com/atriumid/atrium/internal/kind"
	"github.com/atriumid/atrium/internal/session"
	"github.com/atriumid/atrium/internal/sqlstore"
	"github.com/atriumid/atrium/internal/testenv"
	"github.com/atriumid/atrium/internal/throttle"
)

// clock is a settable clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// identity is the credential service over SQLite, with ENS names resolved
// on the local chain through its mock Universal Resolver.
type identity struct {
	db       *sqlstore.DB
	clock    *clock
	accounts *account.Service
	creds    *credential.Service
}

func newIdentity(t *testing.T, c *localChain) *identity {
	t.Helper()
	db := testenv.OpenDB(t, testenv.SQLiteURL(t))
	set, err := kind.Load(kind.Builtin(), kind.CompileOptions{})
	if err != nil {
		t.Fatal(err)
	}
	kinds := kind.NewRegistry(set, 1)
	k, _ := envelope.GenerateKey("test1")
	keys, _ := envelope.NewKeyring([]envelope.Key{k})
	codec, _ := freshness.NewCodec([]byte(strings.Repeat("s", 32)))
	clk := &clock{t: time.Now().UTC().Truncate(time.Microsecond)}
	accounts := account.NewService(account.Config{Store: db.Accounts(), Kinds: kinds, Keys: keys, Freshness: codec, Sessions: db.SessionRevoker(), Now: clk.Now})
	creds, err := credential.NewService(credential.Config{
		Accounts: accounts, Kinds: kinds, Store: db.Credentials(), Keys: keys, Now: clk.Now,
		Sessions: session.NewService(db.Sessions(), session.DefaultPolicy, clk.Now),
		Limiter:  throttle.New(db.Throttle(), throttle.DefaultPolicies, clk.Now),
		Sends:    throttle.New(db.Throttle(), throttle.SendPolicies, clk.Now),
		Hashing:  password.Cheap, Policy: password.DefaultPolicy, Issuer: "Atrium",
		Wallets: &credential.WalletConfig{Store: db.Wallets(), Origin: "https://id.example.org", URI: "https://id.example.org", ChainIDs: []uint64{devChainID},
			ENS: ens.NewResolver(c.client(t, devChainID), devChainID, chain.Address(universalAddr)), ENSChainID: devChainID},
	})
	if err != nil {
		t.Fatal(err)
	}
	return &identity{db: db, clock: clk, accounts: accounts, creds: creds}
}

// user registers a password user holding the key-held wallet a.
func (id *identity) user(t *testing.T, email string, a chain.Address) session.Session {
	t.Helper()
	ctx := context.Background()
	acc, err := id.creds.Register(ctx, credential.RegisterRequest{Kind: "user", Identifier: account.IdentifierInput{Type: "email", Value: email}, Password: "correct horse battery staple"})
	if err != nil {
		t.Fatal(err)
	}
	err = id.db.Accounts().Update(ctx, func(ctx context.Context, tx account.Tx) error {
		return tx.InsertIdentifier(ctx, account.IdentifierRecord{Type: "wallet", Value: chain.AccountID{Address: a}.Key(chain.KeyControl), AccountID: acc.AccountID, CreateTime: id.clock.Now()})
	})
	if err != nil {
		t.Fatal(err)
	}
	return session.Session{AccountID: acc.AccountID, AAL: session.AAL1}
}

// ensNames lists the ENS identifiers of an account.
func (id *identity) ensNames(t *testing.T, accountID string) []string {
	t.Helper()
	acc, err := id.accounts.Get(context.Background(), accountID, nil)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, i := range acc.Identifiers {
		if i.Type == "ens" {
			out = append(out, i.Value)
		}
	}
	return out
}

// TestENSIdentifier verifies ENS names against the mock registry and
// resolver on the local chain: accepted only when forward and reverse
// resolution agree with a wallet the account holds; verified again after
// the TTL; removed, with an atrium.identifier.ens_changed event, when the
// primary name moves; refused when the resolver asks for CCIP-Read, which
// is off.
func TestENSIdentifier(t *testing.T) {
	c := startChain(t)
	owner := chain.Address(crypto.PubkeyToAddress(c.owner.PublicKey))
	stranger := chain.Address{0x5a}
	setResolver := func(node [32]byte) {
		c.send(t, universalAddr, abi.Call(selector("setResolver(bytes32,address)"), node, chain.Address(resolverAddr)))
	}
	setName := func(a chain.Address, name string) {
		c.send(t, resolverAddr, abi.Call(selector("setName(bytes32,string)"), reverseNode(a), name))
	}
	for name, a := range map[string]chain.Address{"owner.eth": owner, "stranger.eth": stranger} {
		setResolver(chain.Namehash(name))
		c.send(t, resolverAddr, abi.Call(selector("setAddr(bytes32,address)"), chain.Namehash(name), a))
	}
	setResolver(chain.Namehash("offchain.eth"))
	c.send(t, resolverAddr, abi.Call(selector("setOffchain(bytes32)"), chain.Namehash("offchain.eth")))
	setResolver(reverseNode(owner))
	setName(owner, "owner.eth")

	id := newIdentity(t, c)
	ctx := context.Background()
	sess := id.user(t, "owner@example.com", owner)

	refusals := []struct {
		name  string
		kind  fault.Kind
		cause error
	}{
		{"stranger.eth", fault.FailedPrecondition, credential.ErrENSDisagrees}, // resolves to a wallet the account lacks
		{"nobody.eth", fault.NotFound, ens.ErrNoAddress},
		{"offchain.eth", fault.FailedPrecondition, ens.ErrOffchainLookup},
	}
	for _, tt := range refusals {
		if _, err := id.creds.VerifyENS(ctx, sess, tt.name); !fault.Is(err, tt.kind) || !errors.Is(err, tt.cause) {
			t.Errorf("VerifyENS(%s) = %v, want kind %v cause %v", tt.name, err, tt.kind, tt.cause)
		}
	}
	got, err := id.creds.VerifyENS(ctx, sess, "Owner.eth")
	if err != nil || got.Name != "owner.eth" || got.Address != owner {
		t.Fatalf("VerifyENS(Owner.eth) = %+v, %v, want owner.eth at %v", got, err, owner)
	}

	const ttl = time.Hour
	id.clock.Advance(ttl + time.Second)
	if n, err := id.creds.ReverifyENS(ctx, ttl, 10); err != nil || n != 1 {
		t.Fatalf("ReverifyENS with the records unchanged = %d, %v, want 1 settled", n, err)
	}
	if names := id.ensNames(t, sess.AccountID); len(names) != 1 || names[0] != "owner.eth" {
		t.Fatalf("ENS names after re-verification = %v, want owner.eth", names)
	}

	setName(owner, "stranger.eth") // the primary name now resolves elsewhere
	id.clock.Advance(ttl + time.Second)
	if n, err := id.creds.ReverifyENS(ctx, ttl, 10); err != nil || n != 1 {
		t.Fatalf("ReverifyENS after the primary name moved = %d, %v, want 1 settled", n, err)
	}
	if names := id.ensNames(t, sess.AccountID); len(names) != 0 {
		t.Errorf("ENS names after the primary name moved = %v, want none", names)
	}
	recs, err := id.db.Events().After(ctx, 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	var reasons []string
	for _, r := range recs {
		if r.Type == "atrium.identifier.ens_changed" && r.Subject == sess.AccountID {
			var d struct{ Reason string }
			json.Unmarshal(r.Data, &d)
			reasons = append(reasons, d.Reason)
		}
	}
	if len(reasons) != 1 || reasons[0] != "primary_differs" {
		t.Errorf("ens_changed events = %v, want one with reason primary_differs", reasons)
	}
}
