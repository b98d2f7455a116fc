package webhook_test

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"testing"

	"github.com/atriumid/atrium/internal/fault"
	"github.com/atriumid/atrium/internal/webhook"
)

// offline resolves nothing, so fuzzing never touches the network.
var offline = &net.Resolver{PreferGo: true, Dial: func(context.Context, string, string) (net.Conn, error) {
	return nil, errors.New("offline")
}}

// FuzzCheckURL checks that no URL the guard accepts points at an address
// it refuses, and that every refusal is a typed error.
func FuzzCheckURL(f *testing.F) {
	for _, s := range []string{"https://8.8.8.8/hook", "http://127.0.0.1/", "http://[::ffff:127.0.0.1]/", "http://0x7f.1/",
		"http://2130706433/", "https://[fe80::1%25eth0]/", "https://example.com/", "http://user@1.1.1.1/", "//1.1.1.1/x", "http://[::]/"} {
		f.Add(s)
	}
	g := webhook.Guard{Resolver: offline}
	f.Fuzz(func(t *testing.T, raw string) {
		u, err := g.CheckURL(context.Background(), "url", raw)
		if err != nil {
			if !fault.Is(err, fault.Invalid) {
				t.Fatalf("CheckURL(%q) = %v, want Invalid", raw, err)
			}
			return
		}
		ip, perr := netip.ParseAddr(u.Hostname())
		if perr != nil || !g.Allowed(ip) {
			t.Fatalf("CheckURL(%q) accepted host %q", raw, u.Hostname())
		}
	})
}

// FuzzValidateTypes checks that accepted types are subjects under atrium.
func FuzzValidateTypes(f *testing.F) {
	for _, s := range []string{"atrium.account.created", "atrium.account.*", "atrium.*", "account", "atrium..x", "atrium.a b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, typ string) {
		err := webhook.ValidateTypes([]string{typ})
		if err != nil && !fault.Is(err, fault.Invalid) {
			t.Fatalf("ValidateTypes(%q) = %v", typ, err)
		}
		if err == nil && (len(typ) < 8 || typ[:7] != "atrium.") {
			t.Fatalf("ValidateTypes(%q) accepted a type outside atrium.", typ)
		}
	})
}
