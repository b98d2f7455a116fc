package webhook_test

import (
	"context"
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/atriumid/atrium/internal/envelope"
	"github.com/atriumid/atrium/internal/fault"
	"github.com/atriumid/atrium/internal/webhook"
)

// TestSignStandardVector reproduces the signature published with the
// Standard Webhooks specification, so receivers' libraries accept ours.
func TestSignStandardVector(t *testing.T) {
	secret, _ := base64.StdEncoding.DecodeString(strings.TrimPrefix("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "whsec_"))
	got := webhook.Sign(secret, "msg_p5jXN8AQM9LWM0D4loKWxJek", time.Unix(1614265330, 0), []byte(`{"test": 2432232314}`))
	if want := "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="; got != want {
		t.Errorf("Sign = %s, want %s", got, want)
	}
	if got := webhook.SecretString(secret); got != "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw" {
		t.Errorf("SecretString = %s", got)
	}
}

func TestGuardAllowed(t *testing.T) {
	refused := []string{"127.0.0.1", "10.1.2.3", "172.16.0.1", "192.168.1.1", "169.254.169.254", "100.64.0.1", "0.0.0.0",
		"0.1.2.3", "224.0.0.1", "255.255.255.255", "198.18.0.1", "::1", "::", "fe80::1", "fc00::1", "fd12::1", "ff02::1",
		"::ffff:127.0.0.1", "::ffff:10.0.0.1", "64:ff9b::7f00:1", "2002:7f00:1::1", "2001:0:7f00:1::1", "::127.0.0.1", "::8.8.8.8", "fec0::1", "4000::1"}
	allowed := []string{"8.8.8.8", "1.1.1.1", "93.184.216.34", "2606:4700:4700::1111", "::ffff:8.8.8.8"}
	var g webhook.Guard
	for _, s := range refused {
		if g.Allowed(netip.MustParseAddr(s)) {
			t.Errorf("Allowed(%s) = true, want false", s)
		}
		if !(webhook.Guard{AllowPrivate: true}).Allowed(netip.MustParseAddr(s)) {
			t.Errorf("Allowed(%s) with AllowPrivate = false, want true", s)
		}
	}
	for _, s := range allowed {
		if !g.Allowed(netip.MustParseAddr(s)) {
			t.Errorf("Allowed(%s) = false, want true", s)
		}
	}
}

func TestCheckURL(t *testing.T) {
	var g webhook.Guard
	for _, u := range []string{"http://127.0.0.1/hook", "https://localhost/hook", "http://[::1]:8080/", "ftp://8.8.8.8/",
		"https://user:pw@8.8.8.8/", "/relative", "https://", "https://10.0.0.1/x", "https://169.254.169.254/latest/meta-data",
		"https://" + strings.Repeat("a", webhook.MaxURL) + ".com/"} {
		if _, err := g.CheckURL(context.Background(), "url", u); !fault.Is(err, fault.Invalid) {
			t.Errorf("CheckURL(%.60s) = %v, want Invalid", u, err)
		}
	}
	if _, err := g.CheckURL(context.Background(), "url", "https://8.8.8.8/hook"); err != nil {
		t.Errorf("CheckURL(public address) = %v", err)
	}
	if _, err := (webhook.Guard{AllowPrivate: true}).CheckURL(context.Background(), "url", "http://127.0.0.1:9/hook"); err != nil {
		t.Errorf("CheckURL(loopback) with AllowPrivate = %v", err)
	}
}

// TestClientRefusesAtConnect shows the guard holds when a checked URL
// later resolves to a forbidden address: the check runs on connect.
func TestClientRefusesAtConnect(t *testing.T) {
	hit := false
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hit = true }))
	defer srv.Close()
	_, err := webhook.Guard{}.Client().Post(srv.URL, "application/json", strings.NewReader("{}"))
	if err == nil || hit {
		t.Fatalf("POST to loopback through the guarded client = %v (reached: %v), want refused", err, hit)
	}
	res, err := webhook.Guard{AllowPrivate: true}.Client().Post(srv.URL, "application/json", strings.NewReader("{}"))
	if err != nil {
		t.Fatalf("POST with AllowPrivate: %v", err)
	}
	res.Body.Close()
}

func TestBackoff(t *testing.T) {
	none := func(int64) int64 { return 0 }
	most := func(n int64) int64 { return n - 1 }
	prev := time.Duration(0)
	for a := 1; a <= 20; a++ {
		d := webhook.Backoff(a, none)
		if d < prev || d > 6*time.Hour {
			t.Errorf("Backoff(%d) = %v after %v: want growing, at most 6h", a, d, prev)
		}
		if j := webhook.Backoff(a, most); j < d || j > d+d/4+1 {
			t.Errorf("Backoff(%d) with full jitter = %v, want within 25%% above %v", a, j, d)
		}
		prev = d
	}
	if got := webhook.Backoff(1, none); got != 5*time.Second {
		t.Errorf("Backoff(1) = %v, want 5s", got)
	}
}

func TestMatchesAndValidateTypes(t *testing.T) {
	s := webhook.Subscription{Types: []string{"atrium.account.created", "atrium.session.*"}}
	for typ, want := range map[string]bool{"atrium.account.created": true, "atrium.account.erased": false,
		"atrium.session.revoked": true, "atrium.sessions.x": false} {
		if got := s.Matches(typ); got != want {
			t.Errorf("Matches(%s) = %v, want %v", typ, got, want)
		}
	}
	if !(webhook.Subscription{}).Matches("atrium.x.y") {
		t.Error("a subscription without types does not match everything")
	}
	if err := webhook.ValidateTypes([]string{"atrium.account.*", "atrium.account.created"}); err != nil {
		t.Errorf("ValidateTypes(valid) = %v", err)
	}
	for _, bad := range []string{"account.created", "atrium.*.created", "atrium.a b", "atrium..x", "*"} {
		if err := webhook.ValidateTypes([]string{bad}); !fault.Is(err, fault.Invalid) {
			t.Errorf("ValidateTypes(%q) = %v, want Invalid", bad, err)
		}
	}
}

func TestSealer(t *testing.T) {
	keys, err := envelope.ParseKeyring("k1:" + strings.Repeat("B", 42) + "A=")
	if err != nil {
		t.Fatal(err)
	}
	s := webhook.Sealer{Keys: keys}
	secret := []byte("0123456789abcdef0123456789abcdef")
	stored, err := s.Seal("whk_1", secret)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(stored), string(secret)) {
		t.Fatal("the stored form holds the secret")
	}
	if got, err := s.Open("whk_1", stored); err != nil || string(got) != string(secret) {
		t.Fatalf("Open = %q, %v; want the secret", got, err)
	}
	tampered := append([]byte(nil), stored...)
	tampered[len(tampered)-1] ^= 1
	for name, tc := range map[string]struct {
		id     string
		stored []byte
	}{"other webhook": {"whk_2", stored}, "tampered": {"whk_1", tampered}, "empty": {"whk_1", nil}, "short": {"whk_1", []byte{200}}} {
		if _, err := s.Open(tc.id, tc.stored); !fault.Is(err, fault.Internal) {
			t.Errorf("Open(%s) = %v, want Internal", name, err)
		}
	}
}
