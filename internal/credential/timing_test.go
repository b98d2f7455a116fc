//go:build !race

package credential_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/atriumid/atrium/internal/account"
	"github.com/atriumid/atrium/internal/credential"
	"github.com/atriumid/atrium/internal/credential/password"
	"github.com/atriumid/atrium/internal/testenv"
)

// R-12 (T-B9 b, short form): with the production hasher, a login for an
// unknown identifier takes about as long as one with a wrong password,
// because a dummy hash is verified. Without it the unknown arm would be
// tens of times faster. Interleaved, sequential; medians compared. The
// full statistical version belongs to a nightly run on an idle machine.
func TestLoginTimingNoEnumeration(t *testing.T) {
	e := newEnv(t, testenv.SQLiteURL(t))
	e.register(t)
	cfg := e.cfg
	cfg.Hashing = password.OWASP
	svc, err := credential.NewService(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	// A correct login rehashes the stored password at production cost, so
	// both arms verify an OWASP hash.
	if _, err := svc.Login(ctx, credential.LoginRequest{Identifier: email1(), Password: pw}); err != nil {
		t.Fatal(err)
	}
	var known, unknown []time.Duration
	for i := range 8 {
		for _, arm := range []int{i % 2, 1 - i%2} {
			id := account.IdentifierInput{Type: "email", Value: email}
			if arm == 1 {
				id.Value = "nobody@example.com"
			}
			start := time.Now()
			svc.Login(ctx, credential.LoginRequest{Identifier: id, Password: "wrong password, but long"})
			d := time.Since(start)
			if arm == 0 {
				known = append(known, d)
			} else {
				unknown = append(unknown, d)
			}
			e.clock.Advance(time.Hour) // keep the throttle out of the way
		}
	}
	slices.Sort(known)
	slices.Sort(unknown)
	k, u := known[len(known)/2], unknown[len(unknown)/2]
	if u < k/2 || u > k*2 {
		t.Errorf("median login time: wrong password %v, unknown identifier %v; want within a factor of 2", k, u)
	}
}
