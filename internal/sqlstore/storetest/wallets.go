package storetest

import (
	"context"
	"crypto/sha256"
	"fmt"
	"testing"
	"time"

	"github.com/atriumid/atrium/internal/account"
	"github.com/atriumid/atrium/internal/fault"
	"github.com/atriumid/atrium/internal/sqlstore"
	"github.com/atriumid/atrium/internal/testenv"
)

// RunWallets runs the conformance suite of the wallet store: sign-in
// nonces and wallet identifiers. newDB returns a fresh, migrated database
// for each subtest.
func RunWallets(t *testing.T, newDB func(t *testing.T) *sqlstore.DB) {
	t.Run("NonceOnce", func(t *testing.T) { t.Parallel(); testNonceOnce(t, newDB(t)) })
	t.Run("WalletIdentifiers", func(t *testing.T) { t.Parallel(); testWalletIdentifiers(t, newDB(t)) })
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

// Wallet identifiers list per account and are removed once, only by the
// account that holds them.
func testWalletIdentifiers(t *testing.T, db *sqlstore.DB) {
	ctx := context.Background()
	ws := db.Wallets()
	id, other := newAccount(t, db), newAccount(t, db)
	const key = "eip155:0:0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"
	err := db.Accounts().Update(ctx, func(ctx context.Context, tx account.Tx) error {
		return tx.InsertIdentifier(ctx, account.IdentifierRecord{Type: "wallet", Value: key, AccountID: id, CreateTime: t0})
	})
	if err != nil {
		t.Fatal(err)
	}
	if got, err := ws.Wallets(ctx, id); err != nil || len(got) != 1 || got[0].Value != key || !got[0].CreateTime.Equal(t0) {
		t.Fatalf("Wallets = %v, %v, want %s", got, err, key)
	}
	if err := ws.DeleteWallet(ctx, other, key); !fault.Is(err, fault.NotFound) {
		t.Errorf("DeleteWallet(another account) = %v, want NotFound", err)
	}
	testenv.ExactlyOnce(t, racers, func() error { return ws.DeleteWallet(ctx, id, key) })
	if got, err := ws.Wallets(ctx, id); err != nil || len(got) != 0 {
		t.Errorf("Wallets after delete = %v, %v, want none", got, err)
	}
}
