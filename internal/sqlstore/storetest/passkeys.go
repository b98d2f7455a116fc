package storetest

import (
	"context"
	"crypto/sha256"
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

// ceremonyRounds is how many WebAuthn ceremonies the exactly-once race
// runs per engine.
const ceremonyRounds = 200

// RunPasskeys runs the conformance suite of the passkey store. newDB
// returns a fresh, migrated database for each subtest.
func RunPasskeys(t *testing.T, newDB func(t *testing.T) *sqlstore.DB) {
	t.Run("CeremonyOnce", func(t *testing.T) { t.Parallel(); testCeremonyOnce(t, newDB(t)) })
	t.Run("SignCountOnce", func(t *testing.T) { t.Parallel(); testSignCountOnce(t, newDB(t)) })
	t.Run("CredentialIDUnique", func(t *testing.T) { t.Parallel(); testCredentialIDUnique(t, newDB(t)) })
	t.Run("ErasedWithAccount", func(t *testing.T) { t.Parallel(); testPasskeysErased(t, newDB(t)) })
}

func passkeyChange(typ, accountID string) credential.Change {
	e := outbox.New(typ, accountID, t0, map[string]any{})
	return credential.Change{Event: &e, Audit: audit.Entry{ID: ids.New("aud"), Type: typ, Account: accountID, Time: t0, Data: []byte(`{}`)}}
}

// a WebAuthn ceremony (its challenge) is consumed once under
// a 32-way race, 200 times; an expired or unknown one never.
func testCeremonyOnce(t *testing.T, db *sqlstore.DB) {
	ctx := context.Background()
	ps := db.Passkeys()
	id := newAccount(t, db)
	for i := range ceremonyRounds {
		h := sha256.Sum256([]byte(fmt.Sprint("ceremony", i)))
		c := credential.PasskeyCeremony{Hash: h[:], Purpose: "login", State: []byte(`{}`), Expire: t0.Add(time.Minute)}
		if i%2 == 1 {
			c.Purpose, c.AccountID, c.MFAHash = "mfa", id, h[:]
		}
		if err := ps.InsertCeremony(ctx, c); err != nil {
			t.Fatal(err)
		}
		testenv.ExactlyOnce(t, racers, func() error {
			got, err := ps.ConsumeCeremony(ctx, h[:], t0)
			if err == nil && (got.Purpose != c.Purpose || got.AccountID != c.AccountID || string(got.State) != "{}") {
				t.Errorf("ConsumeCeremony = %+v, want %+v", got, c)
			}
			return err
		})
	}
	expired := sha256.Sum256([]byte("expired"))
	if err := ps.InsertCeremony(ctx, credential.PasskeyCeremony{Hash: expired[:], Purpose: "login", State: []byte(`{}`), Expire: t0}); err != nil {
		t.Fatal(err)
	}
	unknown := sha256.Sum256([]byte("unknown"))
	for name, h := range map[string][]byte{"expired": expired[:], "unknown": unknown[:]} {
		if _, err := ps.ConsumeCeremony(ctx, h, t0); !fault.Is(err, fault.Aborted) {
			t.Errorf("ConsumeCeremony(%s) = %v, want Aborted", name, err)
		}
	}
}

// two logins that read one sign count cannot both move it
// forward, and a flagged passkey's count never moves.
func testSignCountOnce(t *testing.T, db *sqlstore.DB) {
	ctx := context.Background()
	ps := db.Passkeys()
	id := newAccount(t, db)
	cred := []byte("credential-1")
	if err := ps.AddPasskey(ctx, credential.PasskeyRecord{ID: cred, AccountID: id, Name: "key", Credential: []byte(`{}`), CreateTime: t0},
		passkeyChange("atrium.test.passkey_added", id)); err != nil {
		t.Fatal(err)
	}
	for n := uint32(0); n < rounds; n++ {
		testenv.ExactlyOnce(t, racers, func() error {
			return ps.UsePasskey(ctx, cred, n, n+1, t0, passkeyChange("atrium.test.passkey_used", id))
		})
	}
	if err := ps.FlagPasskey(ctx, cred, t0, passkeyChange("atrium.test.passkey_flagged", id)); err != nil {
		t.Fatal(err)
	}
	if err := ps.UsePasskey(ctx, cred, rounds, rounds+1, t0, passkeyChange("atrium.test.passkey_used", id)); !fault.Is(err, fault.Aborted) {
		t.Errorf("UsePasskey(flagged) = %v, want Aborted", err)
	}
	got, err := ps.Passkeys(ctx, id)
	if err != nil || len(got) != 1 || got[0].SignCount != rounds || !got[0].FlagTime.Equal(t0) {
		t.Fatalf("Passkeys = %+v, %v; want one with count %d, flagged", got, err, rounds)
	}
}

// one credential ID belongs to one account at most, under a
// race of accounts registering it; a handle finds its account.
func testCredentialIDUnique(t *testing.T, db *sqlstore.DB) {
	ctx := context.Background()
	ps := db.Passkeys()
	accounts := make([]string, racers)
	for i := range accounts {
		accounts[i] = newAccount(t, db)
	}
	next := make(chan string, racers)
	for _, a := range accounts {
		next <- a
	}
	testenv.ExactlyOnce(t, racers, func() error {
		a := <-next
		err := ps.AddPasskey(ctx, credential.PasskeyRecord{ID: []byte("shared"), AccountID: a, Name: "key", Credential: []byte(`{}`), CreateTime: t0},
			passkeyChange("atrium.test.passkey_added", a))
		if err != nil && !fault.Is(err, fault.AlreadyExists) {
			t.Errorf("AddPasskey(taken) = %v, want AlreadyExists", err)
		}
		return err
	})
	h, err := ps.UserHandle(ctx, accounts[0], []byte("handle-0"))
	if err != nil || string(h) != "handle-0" {
		t.Fatalf("UserHandle = %q, %v", h, err)
	}
	if h, err := ps.UserHandle(ctx, accounts[0], []byte("handle-x")); err != nil || string(h) != "handle-0" {
		t.Errorf("UserHandle again = %q, %v; want the first handle kept", h, err)
	}
	if got, err := ps.HandleAccount(ctx, []byte("handle-0")); err != nil || got != accounts[0] {
		t.Errorf("HandleAccount = %q, %v, want %q", got, err, accounts[0])
	}
	if _, err := ps.HandleAccount(ctx, []byte("nobody")); !fault.Is(err, fault.NotFound) {
		t.Errorf("HandleAccount(unknown) = %v, want NotFound", err)
	}
	if _, err := ps.UserHandle(ctx, accounts[1], nil); !fault.Is(err, fault.NotFound) {
		t.Errorf("UserHandle(none yet) = %v, want NotFound", err)
	}
}

// Erasing an account removes its passkeys, its user handle and its
// ceremonies, and no passkey can be added to it afterwards.
func testPasskeysErased(t *testing.T, db *sqlstore.DB) {
	ctx := context.Background()
	ps := db.Passkeys()
	id := newAccount(t, db)
	if _, err := ps.UserHandle(ctx, id, []byte("erased-handle")); err != nil {
		t.Fatal(err)
	}
	rec := credential.PasskeyRecord{ID: []byte("erased"), AccountID: id, Name: "key", Credential: []byte(`{}`), CreateTime: t0}
	if err := ps.AddPasskey(ctx, rec, passkeyChange("atrium.test.passkey_added", id)); err != nil {
		t.Fatal(err)
	}
	h := sha256.Sum256([]byte("erased ceremony"))
	if err := ps.InsertCeremony(ctx, credential.PasskeyCeremony{Hash: h[:], Purpose: "mfa", AccountID: id, State: []byte(`{}`), Expire: t0.Add(time.Minute)}); err != nil {
		t.Fatal(err)
	}
	if err := db.Accounts().Update(ctx, func(ctx context.Context, tx account.Tx) error { return tx.Erase(ctx, id, t0) }); err != nil {
		t.Fatal(err)
	}
	if got, err := ps.Passkeys(ctx, id); err != nil || len(got) != 0 {
		t.Errorf("Passkeys after erasure = %v, %v, want none", got, err)
	}
	if _, err := ps.HandleAccount(ctx, []byte("erased-handle")); !fault.Is(err, fault.NotFound) {
		t.Errorf("HandleAccount after erasure = %v, want NotFound", err)
	}
	if _, err := ps.ConsumeCeremony(ctx, h[:], t0); !fault.Is(err, fault.Aborted) {
		t.Errorf("ConsumeCeremony after erasure = %v, want Aborted", err)
	}
	if err := ps.AddPasskey(ctx, rec, passkeyChange("atrium.test.passkey_added", id)); !fault.Is(err, fault.NotFound) {
		t.Errorf("AddPasskey to an erased account = %v, want NotFound", err)
	}
	if _, err := ps.UserHandle(ctx, id, []byte("another")); !fault.Is(err, fault.NotFound) {
		t.Errorf("UserHandle of an erased account = %v, want NotFound", err)
	}
}
