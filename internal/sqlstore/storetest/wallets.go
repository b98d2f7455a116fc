package storetest

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/atriumid/atrium/internal/account"
	"github.com/atriumid/atrium/internal/audit"
	"github.com/atriumid/atrium/internal/credential"
	"github.com/atriumid/atrium/internal/fault"
	"github.com/atriumid/atrium/internal/ids"
	"github.com/atriumid/atrium/internal/outbox"
	"github.com/atriumid/atrium/internal/sqlstore"
	"github.com/atriumid/atrium/internal/testenv"
)

// RunWallets runs the conformance suite of the wallet store: sign-in
// nonces, wallet identifiers and ENS identifiers. newDB returns a fresh, migrated database
// for each subtest.
func RunWallets(t *testing.T, newDB func(t *testing.T) *sqlstore.DB) {
	t.Run("NonceOnce", func(t *testing.T) { t.Parallel(); testNonceOnce(t, newDB(t)) })
	t.Run("WalletIdentifiers", func(t *testing.T) { t.Parallel(); testWalletIdentifiers(t, newDB(t)) })
	t.Run("ENSIdentifiers", func(t *testing.T) { t.Parallel(); testENSIdentifiers(t, newDB(t)) })
}

// a sign-in nonce is consumed once under a 32-way race; an
// expired or unknown one never.
func testNonceOnce(t *testing.T, db *sqlstore.DB) {
	ctx := context.Background()
	ws := db.Wallets()
	for i := range rounds {
		h := sha256.Sum256([]byte(fmt.Sprint("nonce", i)))
		if err := ws.InsertNonce(ctx, h[:], t0.Add(5*time.Minute)); err != nil {
			t.Fatal(err)
		}
		testenv.ExactlyOnce(t, racers, func() error { return ws.ConsumeNonce(ctx, h[:], t0) })
	}
	expired := sha256.Sum256([]byte("expired"))
	if err := ws.InsertNonce(ctx, expired[:], t0); err != nil {
		t.Fatal(err)
	}
	unknown := sha256.Sum256([]byte("unknown"))
	for name, h := range map[string][]byte{"expired": expired[:], "unknown": unknown[:]} {
		if err := ws.ConsumeNonce(ctx, h, t0); !fault.Is(err, fault.Aborted) {
			t.Errorf("ConsumeNonce(%s) = %v, want Aborted", name, err)
		}
	}
}

// identChange is an identifier change of account id whose event and audit
// record have type typ.
func identChange(id, value, typ string) credential.IdentifierChange {
	return credential.IdentifierChange{AccountID: id, Value: value, Time: t0,
		Record: func(kind string, version int64) (outbox.Event, audit.Entry, error) {
			e := outbox.New(typ, id, t0, map[string]any{"kind": kind, "version": version})
			return e, audit.Entry{ID: ids.New("aud"), Type: typ, Account: id, Time: t0, Data: []byte(`{}`)}, nil
		}}
}

// countEvents counts the events of type typ about id.
func countEvents(t *testing.T, db *sqlstore.DB, id, typ string) int {
	t.Helper()
	recs, err := db.Events().After(context.Background(), 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, r := range recs {
		if r.Subject == id && r.Type == typ {
			n++
		}
	}
	return n
}

func insertIdentifier(t *testing.T, db *sqlstore.DB, id, typ, value string) {
	t.Helper()
	err := db.Accounts().Update(context.Background(), func(ctx context.Context, tx account.Tx) error {
		return tx.InsertIdentifier(ctx, account.IdentifierRecord{Type: typ, Value: value, AccountID: id, CreateTime: t0})
	})
	if err != nil {
		t.Fatal(err)
	}
}

// Wallet identifiers list per account and are removed once, only by the
// account that holds them, each with one event; the only wallet of an
// account without a password stays.
func testWalletIdentifiers(t *testing.T, db *sqlstore.DB) {
	ctx := context.Background()
	ws := db.Wallets()
	id, other := newAccount(t, db), newAccount(t, db)
	const key, spare = "eip155:0:0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed", "eip155:1:0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359"
	insertIdentifier(t, db, id, "wallet", key)
	insertIdentifier(t, db, id, "wallet", spare)
	if got, err := ws.Wallets(ctx, id); err != nil || len(got) != 2 || got[0].Value != key || !got[0].CreateTime.Equal(t0) {
		t.Fatalf("Wallets = %v, %v, want %s and %s", got, err, key, spare)
	}
	const removed = "atrium.account.identifier_removed"
	if err := ws.DeleteWallet(ctx, identChange(other, key, removed)); !fault.Is(err, fault.NotFound) {
		t.Errorf("DeleteWallet(another account) = %v, want NotFound", err)
	}
	testenv.ExactlyOnce(t, racers, func() error { return ws.DeleteWallet(ctx, identChange(id, key, removed)) })
	if got, err := ws.Wallets(ctx, id); err != nil || len(got) != 1 {
		t.Errorf("Wallets after delete = %v, %v, want one", got, err)
	}
	if err := ws.DeleteWallet(ctx, identChange(id, spare, removed)); !fault.Is(err, fault.FailedPrecondition) || !errors.Is(err, credential.ErrLastSignIn) {
		t.Errorf("DeleteWallet(the only wallet) = %v, want FailedPrecondition wrapping ErrLastSignIn", err)
	}
	if n := countEvents(t, db, id, removed); n != 1 {
		t.Errorf("%d %s events, want 1", n, removed)
	}
}

// ENS identifiers are added only to an account holding one of the given
// wallets, come due after their verify time, and are touched or removed
// once, with one event, while their verify time is the one read.
func testENSIdentifiers(t *testing.T, db *sqlstore.DB) {
	ctx := context.Background()
	ws := db.Wallets()
	id, other := newAccount(t, db), newAccount(t, db)
	const key = "eip155:0:0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"
	wallets := []string{key, "eip155:1:0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"}
	insertIdentifier(t, db, id, "wallet", key)
	const added, changed = "atrium.account.identifier_added", "atrium.identifier.ens_changed"
	if err := ws.InsertENS(ctx, identChange(other, "alice.eth", added), wallets); !fault.Is(err, fault.FailedPrecondition) || !errors.Is(err, credential.ErrENSDisagrees) {
		t.Errorf("InsertENS(account without the wallet) = %v, want FailedPrecondition wrapping ErrENSDisagrees", err)
	}
	if err := ws.InsertENS(ctx, identChange(id, "alice.eth", added), wallets); err != nil {
		t.Fatal(err)
	}
	again := identChange(id, "alice.eth", added)
	again.Time = t0.Add(time.Minute)
	if err := ws.InsertENS(ctx, again, wallets); err != nil {
		t.Errorf("InsertENS(again) = %v", err)
	}
	insertIdentifier(t, db, other, "wallet", "eip155:0:0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359")
	if err := ws.InsertENS(ctx, identChange(other, "alice.eth", added), []string{"eip155:0:0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359", "x"}); !fault.Is(err, fault.AlreadyExists) {
		t.Errorf("InsertENS(another account's name) = %v, want AlreadyExists", err)
	}
	if n := countEvents(t, db, id, added); n != 1 {
		t.Errorf("%d %s events, want 1", n, added)
	}
	if due, err := ws.DueENS(ctx, t0.Add(time.Minute), 10); err != nil || len(due) != 0 {
		t.Errorf("DueENS(before the verify time) = %v, %v, want none", due, err)
	}
	due, err := ws.DueENS(ctx, t0.Add(time.Hour), 10)
	if err != nil || len(due) != 1 || due[0].Name != "alice.eth" || due[0].AccountID != id || !due[0].VerifyTime.Equal(t0.Add(time.Minute)) {
		t.Fatalf("DueENS = %v, %v, want alice.eth verified at t0+1m", due, err)
	}
	testenv.ExactlyOnce(t, racers, func() error { return ws.TouchENS(ctx, due[0], t0.Add(2*time.Minute)) })
	if err := ws.DeleteENS(ctx, due[0], identChange(id, "alice.eth", changed)); !fault.Is(err, fault.Aborted) {
		t.Errorf("DeleteENS(stale verify time) = %v, want Aborted", err)
	}
	due[0].VerifyTime = t0.Add(2 * time.Minute)
	testenv.ExactlyOnce(t, racers, func() error { return ws.DeleteENS(ctx, due[0], identChange(id, "alice.eth", changed)) })
	if n := countEvents(t, db, id, changed); n != 1 {
		t.Errorf("%d %s events, want 1", n, changed)
	}
	if due, err := ws.DueENS(ctx, t0.Add(time.Hour), 10); err != nil || len(due) != 0 {
		t.Errorf("DueENS after delete = %v, %v, want none", due, err)
	}
}
