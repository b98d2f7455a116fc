package totp

import (
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"hash"
	"net/url"
	"testing"
	"time"
)

// TestRFC6238Vectors checks the test vectors of RFC 6238 Appendix B (8
// digits, 30 s steps, each algorithm with its own ASCII seed).
func TestRFC6238Vectors(t *testing.T) {
	seeds := map[string][]byte{
		"SHA1":   []byte("12345678901234567890"),
		"SHA256": []byte("12345678901234567890123456789012"),
		"SHA512": []byte("1234567890123456789012345678901234567890123456789012345678901234"),
	}
	algs := map[string]func() hash.Hash{"SHA1": sha1.New, "SHA256": sha256.New, "SHA512": sha512.New}
	vectors := []struct {
		unix int64
		alg  string
		want string
	}{
		{59, "SHA1", "94287082"}, {59, "SHA256", "46119246"}, {59, "SHA512", "90693936"},
		{1111111109, "SHA1", "07081804"}, {1111111109, "SHA256", "68084774"}, {1111111109, "SHA512", "25091201"},
		{1111111111, "SHA1", "14050471"}, {1111111111, "SHA256", "67062674"}, {1111111111, "SHA512", "99943326"},
		{1234567890, "SHA1", "89005924"}, {1234567890, "SHA256", "91819424"}, {1234567890, "SHA512", "93441116"},
		{2000000000, "SHA1", "69279037"}, {2000000000, "SHA256", "90698825"}, {2000000000, "SHA512", "38618901"},
		{20000000000, "SHA1", "65353130"}, {20000000000, "SHA256", "77737706"}, {20000000000, "SHA512", "47863826"},
	}
	for _, v := range vectors {
		got := HOTP(algs[v.alg], seeds[v.alg], Step(time.Unix(v.unix, 0)), 8)
		if got != v.want {
			t.Errorf("TOTP(%s, %d) = %s, want %s", v.alg, v.unix, got, v.want)
		}
	}
}

// TestVerifyWindow: R-15, ±1 step of the server clock and no more; R-14,
// never a step at or before the last accepted one.
func TestVerifyWindow(t *testing.T) {
	secret := []byte("12345678901234567890")
	now := time.Unix(1_700_000_015, 0)
	cur := Step(now)
	tests := []struct {
		name string
		step int64
		last int64
		ok   bool
	}{
		{"current", cur, 0, true},
		{"previous", cur - 1, 0, true},
		{"next", cur + 1, 0, true},
		{"two back", cur - 2, 0, false},
		{"two ahead", cur + 2, 0, false},
		{"R-14 replay of last", cur, cur, false},
		{"R-14 previous after current used", cur - 1, cur, false},
		{"next after current used", cur + 1, cur, true},
	}
	for _, tc := range tests {
		got, ok := Verify(secret, Code(secret, tc.step), now, tc.last)
		if ok != tc.ok || (ok && got != tc.step) {
			t.Errorf("%s: Verify = %d, %v, want %d, %v", tc.name, got, ok, tc.step, tc.ok)
		}
	}
	if _, ok := Verify(secret, "12345", now, 0); ok {
		t.Errorf("Verify(5 digits) = true")
	}
}

func TestURI(t *testing.T) {
	u, err := url.Parse(URI("Atrium", "alice@example.com", []byte("12345678901234567890")))
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	if u.Scheme != "otpauth" || u.Host != "totp" || u.Path != "/Atrium:alice@example.com" ||
		q.Get("secret") != "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ" || q.Get("issuer") != "Atrium" || q.Get("digits") != "6" {
		t.Errorf("URI = %s", u)
	}
}

// TestNewSecret: R-15, secrets are 160 random bits.
func TestNewSecret(t *testing.T) {
	a, _ := NewSecret()
	b, _ := NewSecret()
	if len(a) != SecretSize || string(a) == string(b) {
		t.Errorf("NewSecret = %x, %x", a, b)
	}
}
