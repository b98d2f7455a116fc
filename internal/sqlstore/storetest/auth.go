package storetest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/atriumid/atrium/internal/account"
	"github.com/atriumid/atrium/internal/credential"
	"github.com/atriumid/atrium/internal/fault"
	"github.com/atriumid/atrium/internal/ids"
	"github.com/atriumid/atrium/internal/outbox"
	"github.com/atriumid/atrium/internal/session"
	"github.com/atriumid/atrium/internal/sqlstore"
	"github.com/atriumid/atrium/internal/testenv"
	"github.com/atriumid/atrium/internal/throttle"
)

// Consumers and rounds of the exactly-once checks: 32 goroutines
// race for one secret, 200 times.
const (
	racers = 32
	rounds = 200
)

// RunAuth runs the conformance suite of the credential, session and
// throttle stores. newDB returns a fresh, migrated database for each
// subtest.
func RunAuth(t *testing.T, newDB func(t *testing.T) *sqlstore.DB) {
	tests := []struct {
		name string
		fn   func(t *testing.T, db *sqlstore.DB)
	}{
		{"TOTPStepOnce", testTOTPStepOnce},
		{"RecoveryCodeOnce", testRecoveryCodeOnce},
		{"ChallengeOnce", testChallengeOnce},
		{"CodeOnce", testCodeOnce},
		{"SessionRotationOnce", testSessionRotationOnce},
		{"ThrottleCounterAtomic", testThrottleCounterAtomic},
		{"ThrottleReserveAtomic", testThrottleReserveAtomic},
		{"ThrottlePrune", testThrottlePrune},
		{"SessionRevocation", testSessionRevocation},
		{"SuspensionRevokesSessions", testSuspensionRevokesSessions},
		{"PendingTOTP", testPendingTOTP},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.fn(t, newDB(t))
		})
	}
}

// credTx runs one credential write in a transaction of its own.
func credTx(db *sqlstore.DB, fn func(tx credential.Tx) error) error {
	return db.Credentials().Update(context.Background(), func(_ context.Context, tx credential.Tx) error { return fn(tx) })
}

func newAccount(t *testing.T, db *sqlstore.DB) string {
	t.Helper()
	r := newRecord("user", "usr")
	insert(t, db, r)
	return r.ID
}

// concurrent logins with codes of the same step: one wins, and
// an earlier step never wins after a later one.
func testTOTPStepOnce(t *testing.T, db *sqlstore.DB) {
	ctx := context.Background()
	cs := db.Credentials()
	id := newAccount(t, db)
	if err := credTx(db, func(tx credential.Tx) error {
		return tx.PutPendingTOTP(ctx, credential.TOTPRecord{AccountID: id, Sealed: []byte("s"), CreateTime: t0})
	}); err != nil {
		t.Fatal(err)
	}
	if err := credTx(db, func(tx credential.Tx) error { return tx.ConfirmTOTP(ctx, id, []byte("s"), 1, t0) }); err != nil {
		t.Fatal(err)
	}
	for step := int64(2); step < 2+rounds; step++ {
		testenv.ExactlyOnce(t, racers, func() error { return cs.AdvanceTOTP(ctx, id, step) })
		if err := cs.AdvanceTOTP(ctx, id, step-1); !fault.Is(err, fault.Aborted) {
			t.Fatalf("AdvanceTOTP(previous step %d) = %v, want Aborted", step-1, err)
		}
	}
}

// a recovery code is used once.
func testRecoveryCodeOnce(t *testing.T, db *sqlstore.DB) {
	ctx := context.Background()
	cs := db.Credentials()
	id := newAccount(t, db)
	var hashes [][]byte
	for i := range rounds {
		h := sha256.Sum256([]byte(fmt.Sprint(i)))
		hashes = append(hashes, h[:])
	}
	if err := credTx(db, func(tx credential.Tx) error { return tx.ReplaceRecoveryCodes(ctx, id, hashes, t0) }); err != nil {
		t.Fatal(err)
	}
	for _, h := range hashes {
		testenv.ExactlyOnce(t, racers, func() error {
			return credTx(db, func(tx credential.Tx) error { return tx.UseRecoveryCode(ctx, id, h, t0) })
		})
	}
	if n, err := cs.RecoveryCodesLeft(ctx, id); n != 0 || err != nil {
		t.Errorf("RecoveryCodesLeft = %d, %v, want 0", n, err)
	}
}

// an MFA challenge completes one login; an expired one none.
func testChallengeOnce(t *testing.T, db *sqlstore.DB) {
	ctx := context.Background()
	cs := db.Credentials()
	id := newAccount(t, db)
	for i := range rounds {
		h := sha256.Sum256([]byte(fmt.Sprint("challenge", i)))
		if err := cs.InsertChallenge(ctx, h[:], id, t0.Add(time.Minute)); err != nil {
			t.Fatal(err)
		}
		if got, err := cs.ChallengeAccount(ctx, h[:], t0); got != id || err != nil {
			t.Fatalf("ChallengeAccount = %q, %v, want %q", got, err, id)
		}
		testenv.ExactlyOnce(t, racers, func() error { return cs.ConsumeChallenge(ctx, h[:], t0) })
	}
	h := sha256.Sum256([]byte("expired"))
	cs.InsertChallenge(ctx, h[:], id, t0)
	if err := cs.ConsumeChallenge(ctx, h[:], t0); !fault.Is(err, fault.Aborted) {
		t.Errorf("ConsumeChallenge(expired) = %v, want Aborted", err)
	}
	if _, err := cs.ChallengeAccount(ctx, h[:], t0); !fault.Is(err, fault.NotFound) {
		t.Errorf("ChallengeAccount(expired) = %v, want NotFound", err)
	}
}

// an e-mail, SMS or recovery code is used by one request; an
// expired one by none.
func testCodeOnce(t *testing.T, db *sqlstore.DB) {
	ctx := context.Background()
	cs := db.Credentials()
	id := newAccount(t, db)
	for i := range rounds {
		h := sha256.Sum256([]byte(fmt.Sprint("flow", i)))
		typ := []string{"email", "phone", "recovery"}[i%3]
		c := credential.EmailCode{FlowHash: h[:], AccountID: id, Type: typ, Address: "a@example.com", CodeHash: h[:], Expire: t0.Add(time.Minute)}
		if err := cs.PutEmailCode(ctx, c); err != nil {
			t.Fatal(err)
		}
		testenv.ExactlyOnce(t, racers, func() error { return cs.ConsumeEmailCode(ctx, h[:], t0) })
	}
	h := sha256.Sum256([]byte("expired"))
	if err := cs.PutEmailCode(ctx, credential.EmailCode{FlowHash: h[:], AccountID: id, Type: "email", Address: "a@example.com", CodeHash: h[:], Expire: t0}); err != nil {
		t.Fatal(err)
	}
	if err := cs.ConsumeEmailCode(ctx, h[:], t0); !fault.Is(err, fault.Aborted) {
		t.Errorf("ConsumeEmailCode(expired) = %v, want Aborted", err)
	}
}

func sessionRecord(accountID string, n int) session.Record {
	h := sha256.Sum256([]byte(fmt.Sprint(accountID, n)))
	return session.Record{TokenHash: h[:], Session: session.Session{ID: ids.New("ses"), AccountID: accountID, AccountState: "active",
		AAL: session.AAL1, Methods: []string{"pwd"}, AuthTime: t0, LastSeen: t0, ExpireTime: t0.Add(time.Hour)}}
}

// a session is replaced (step-up, credential change) once:
// of 32 concurrent rotations exactly one stores its new session.
func testSessionRotationOnce(t *testing.T, db *sqlstore.DB) {
	ctx := context.Background()
	ss := db.Sessions()
	id := newAccount(t, db)
	cur := sessionRecord(id, 0)
	if err := ss.InsertSession(ctx, cur, "", t0, outbox.New("atrium.session.created", cur.AccountID, t0, map[string]any{})); err != nil {
		t.Fatal(err)
	}
	n := 1
	for range rounds {
		var mu sync.Mutex
		var winner session.Record
		testenv.ExactlyOnce(t, racers, func() error {
			mu.Lock()
			n++
			r := sessionRecord(id, n)
			mu.Unlock()
			err := ss.InsertSession(ctx, r, cur.ID, t0, outbox.New("atrium.session.created", r.AccountID, t0, map[string]any{}))
			if err == nil {
				winner = r
			} else if !fault.Is(err, fault.Aborted) {
				t.Errorf("InsertSession = %v, want nil or Aborted", err)
			}
			return err
		})
		cur = winner
	}
	live, err := ss.Sessions(ctx, id, t0)
	if err != nil || len(live) != 1 || live[0].ID != cur.ID {
		t.Errorf("Sessions after rotations = %d sessions, %v; want only the last winner", len(live), err)
	}
}

// failures are counted exactly under concurrency, and blocks never
// shorten.
func testThrottleCounterAtomic(t *testing.T, db *sqlstore.DB) {
	ctx := context.Background()
	ts := db.Throttle()
	const n = 64
	var wg sync.WaitGroup
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := ts.RecordFailure(ctx, "a:x", t0, t0.Add(-time.Hour), throttle.DefaultPolicies.Pair.Delay, false); err != nil {
				t.Errorf("RecordFailure: %v", err)
			}
		}()
	}
	wg.Wait()
	st, err := ts.ThrottleStates(ctx, []string{"a:x", "c:none"})
	if err != nil || len(st) != 1 || st[0].Failures != n {
		t.Fatalf("ThrottleStates = %+v, %v, want %d failures", st, err, n)
	}
	if want := t0.Add(throttle.DefaultPolicies.Pair.Delay(n)); !st[0].BlockedUntil.Equal(want) {
		t.Errorf("BlockedUntil = %v, want %v", st[0].BlockedUntil, want)
	}
	// A failure counted after the window starts again from one.
	later := t0.Add(2 * time.Hour)
	if got, _ := ts.RecordFailure(ctx, "a:x", later, later.Add(-time.Hour), throttle.DefaultPolicies.Pair.Delay, false); got.Failures != 1 {
		t.Errorf("failures after the window = %d, want 1", got.Failures)
	}
	if err := ts.Settle(ctx, nil, []string{"a:x"}); err != nil {
		t.Fatal(err)
	}
	if st, _ := ts.ThrottleStates(ctx, []string{"a:x"}); len(st) != 0 {
		t.Errorf("ThrottleStates after reset = %+v, want none", st)
	}
}

// reserveRace has racers goroutines Reserve rules at once and returns how
// many were admitted.
func reserveRace(t *testing.T, ts throttle.Store, rules []throttle.Rule, now time.Time) int {
	t.Helper()
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		admitted int
	)
	for range racers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ok, _, err := ts.Reserve(context.Background(), rules, now, now.Add(throttle.Lease))
			if err != nil {
				t.Errorf("Reserve: %v", err)
			}
			if ok {
				mu.Lock()
				admitted++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return admitted
}

// a reservation is admitted and counted in one step, so of
// racers parallel attempts at most Free - failures + 1 go ahead, and one
// alone once the free failures are used; a refused multi-key reservation
// holds nothing; a lapsed lease frees the key; settling releases it.
func testThrottleReserveAtomic(t *testing.T, db *sqlstore.DB) {
	ctx := context.Background()
	ts := db.Throttle()
	const free = 3
	delay := throttle.Policy{Free: free, Base: time.Second, Max: time.Minute, Limit: 100, Window: time.Hour}.Delay
	rule := func(k string) throttle.Rule {
		return throttle.Rule{Key: k, Free: free, ForgetBefore: t0.Add(-time.Hour)}
	}
	for range rounds {
		if got := reserveRace(t, ts, []throttle.Rule{rule("p:fresh")}, t0); got != free+1 {
			t.Fatalf("admitted on a fresh key = %d, want %d", got, free+1)
		}
		if err := ts.Settle(ctx, []string{"p:fresh"}, []string{"p:fresh"}); err != nil {
			t.Fatal(err)
		}
		for range free {
			if err := ts.Settle(ctx, []string{"p:fresh"}, nil); err != nil {
				t.Fatal(err)
			}
		}
		if st, _ := ts.ThrottleStates(ctx, []string{"p:fresh"}); len(st) != 0 {
			t.Fatalf("states after settling every reservation = %+v, want none", st)
		}
	}
	// A key at its free failures, its block just over: one attempt.
	for range free {
		ts.RecordFailure(ctx, "p:limit", t0, t0.Add(-time.Hour), delay, false)
	}
	if got := reserveRace(t, ts, []throttle.Rule{rule("p:limit")}, t0); got != 1 {
		t.Errorf("admitted at the free failures = %d, want 1", got)
	}
	st, _ := ts.ThrottleStates(ctx, []string{"p:limit"})
	if len(st) != 1 || st[0].Pending != 1 {
		t.Errorf("states = %+v, want one pending", st)
	}
	// A lapsed lease frees the key.
	later := t0.Add(throttle.Lease)
	if ok, _, err := ts.Reserve(ctx, []throttle.Rule{rule("p:limit")}, later, later.Add(throttle.Lease)); !ok || err != nil {
		t.Errorf("Reserve after the lease = %v, %v, want admitted", ok, err)
	}
	// A multi-key reservation refused by one key reserves none.
	ok, states, err := ts.Reserve(ctx, []throttle.Rule{rule("a:other"), rule("p:limit")}, later, later.Add(throttle.Lease))
	if ok || err != nil || len(states) != 1 || states[0].Key != "p:limit" {
		t.Errorf("Reserve(refused) = %v, %+v, %v; want refused with the state of p:limit", ok, states, err)
	}
	if st, _ := ts.ThrottleStates(ctx, []string{"a:other"}); len(st) != 0 {
		t.Errorf("a:other after a refused reservation = %+v, want nothing", st)
	}
	// A failure settles its reservation and blocks.
	got, err := ts.RecordFailure(ctx, "p:limit", later, later.Add(-time.Hour), delay, true)
	if err != nil || got.Failures != free+1 {
		t.Fatalf("RecordFailure = %+v, %v", got, err)
	}
	if ok, states, _ := ts.Reserve(ctx, []throttle.Rule{rule("p:limit")}, later, later.Add(throttle.Lease)); ok || len(states) != 1 || !states[0].BlockedUntil.After(later) || states[0].Pending != 0 {
		t.Errorf("Reserve while blocked = %v, %+v; want refused, blocked, none pending", ok, states)
	}
}

// Forgotten keys are pruned; blocked, reserved and recent ones stay.
func testThrottlePrune(t *testing.T, db *sqlstore.DB) {
	ctx := context.Background()
	ts := db.Throttle()
	old := t0.Add(-48 * time.Hour)
	for _, k := range []string{"c:old", "c:blocked"} {
		ts.RecordFailure(ctx, k, old, old.Add(-time.Hour), func(int64) time.Duration { return 0 }, false)
	}
	ts.RecordFailure(ctx, "c:blocked", old, old.Add(-time.Hour), func(int64) time.Duration { return 72 * time.Hour }, false)
	ts.RecordFailure(ctx, "c:recent", t0, t0.Add(-time.Hour), func(int64) time.Duration { return 0 }, false)
	if err := ts.PruneThrottle(ctx, t0.Add(-24*time.Hour), t0); err != nil {
		t.Fatal(err)
	}
	st, _ := ts.ThrottleStates(ctx, []string{"c:old", "c:blocked", "c:recent"})
	var left []string
	for _, s := range st {
		left = append(left, s.Key)
	}
	slices.Sort(left)
	if !slices.Equal(left, []string{"c:blocked", "c:recent"}) {
		t.Errorf("keys after pruning = %v, want c:blocked c:recent", left)
	}
}

// revocation of one, of all others, by hash lookups.
func testSessionRevocation(t *testing.T, db *sqlstore.DB) {
	ctx := context.Background()
	ss := db.Sessions()
	id := newAccount(t, db)
	var rs []session.Record
	for i := range 3 {
		r := sessionRecord(id, i)
		if err := ss.InsertSession(ctx, r, "", t0, outbox.New("atrium.session.created", r.AccountID, t0, map[string]any{})); err != nil {
			t.Fatal(err)
		}
		rs = append(rs, r)
	}
	got, state, err := ss.SessionByToken(ctx, rs[0].TokenHash)
	if err != nil || got.ID != rs[0].ID || state != "active" || !bytes.Equal(got.TokenHash, rs[0].TokenHash) {
		t.Fatalf("SessionByToken = %+v, %q, %v", got, state, err)
	}
	if err := ss.RevokeSession(ctx, "usr_other", rs[0].ID, t0, outbox.New("atrium.session.revoked", id, t0, map[string]any{})); !fault.Is(err, fault.NotFound) {
		t.Errorf("RevokeSession(another account's session) = %v, want NotFound", err)
	}
	if err := ss.RevokeSession(ctx, id, rs[0].ID, t0, outbox.New("atrium.session.revoked", id, t0, map[string]any{})); err != nil {
		t.Fatal(err)
	}
	if err := ss.RevokeSession(ctx, id, rs[0].ID, t0, outbox.New("atrium.session.revoked", id, t0, map[string]any{})); !fault.Is(err, fault.NotFound) {
		t.Errorf("RevokeSession twice = %v, want NotFound", err)
	}
	if n, err := ss.RevokeSessions(ctx, id, rs[2].ID, t0, outbox.New("atrium.session.revoked", id, t0, map[string]any{})); n != 1 || err != nil {
		t.Errorf("RevokeSessions(keep last) = %d, %v, want 1", n, err)
	}
	live, _ := ss.Sessions(ctx, id, t0)
	if len(live) != 1 || live[0].ID != rs[2].ID {
		t.Errorf("live sessions = %+v, want only %s", live, rs[2].ID)
	}
}

// the account service's hook revokes every session inside the
// transaction of a suspension.
func testSuspensionRevokesSessions(t *testing.T, db *sqlstore.DB) {
	ctx := context.Background()
	id := newAccount(t, db)
	r := sessionRecord(id, 0)
	if err := db.Sessions().InsertSession(ctx, r, "", t0, outbox.New("atrium.session.created", r.AccountID, t0, map[string]any{})); err != nil {
		t.Fatal(err)
	}
	err := db.Accounts().Update(ctx, func(ctx context.Context, tx account.Tx) error {
		return db.SessionRevoker().RevokeSessions(ctx, tx, id, t0)
	})
	if err != nil {
		t.Fatal(err)
	}
	got, _, err := db.Sessions().SessionByToken(ctx, r.TokenHash)
	if err != nil || got.RevokeTime.IsZero() {
		t.Errorf("session after RevokeSessions = %+v, %v, want revoked", got, err)
	}
}

// A pending TOTP secret may be replaced; a confirmed one may not, and
// confirmation needs the very secret that is pending.
func testPendingTOTP(t *testing.T, db *sqlstore.DB) {
	ctx := context.Background()
	cs := db.Credentials()
	id := newAccount(t, db)
	for _, s := range []string{"one", "two"} {
		if err := credTx(db, func(tx credential.Tx) error {
			return tx.PutPendingTOTP(ctx, credential.TOTPRecord{AccountID: id, Sealed: []byte(s), CreateTime: t0})
		}); err != nil {
			t.Fatalf("PutPendingTOTP(%s) = %v", s, err)
		}
	}
	if err := credTx(db, func(tx credential.Tx) error { return tx.ConfirmTOTP(ctx, id, []byte("one"), 5, t0) }); !fault.Is(err, fault.Aborted) {
		t.Errorf("ConfirmTOTP(replaced secret) = %v, want Aborted", err)
	}
	if err := credTx(db, func(tx credential.Tx) error { return tx.ConfirmTOTP(ctx, id, []byte("two"), 5, t0) }); err != nil {
		t.Fatal(err)
	}
	if err := credTx(db, func(tx credential.Tx) error {
		return tx.PutPendingTOTP(ctx, credential.TOTPRecord{AccountID: id, Sealed: []byte("three"), CreateTime: t0})
	}); !fault.Is(err, fault.AlreadyExists) {
		t.Errorf("PutPendingTOTP over a confirmed one = %v, want AlreadyExists", err)
	}
	rec, err := cs.TOTP(ctx, id)
	if err != nil || string(rec.Sealed) != "two" || rec.LastStep != 5 || rec.ConfirmTime.IsZero() {
		t.Errorf("TOTP = %+v, %v", rec, err)
	}
}
