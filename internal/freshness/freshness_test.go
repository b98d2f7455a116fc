package freshness

import (
	"bytes"
	"encoding/base64"
	"math"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/atriumid/atrium/internal/fault"
	"github.com/google/go-cmp/cmp"
)

var (
	secretA = bytes.Repeat([]byte("a"), MinSecretLen)
	secretB = bytes.Repeat([]byte("b"), MinSecretLen)
	when    = time.Date(2026, 11, 26, 18, 30, 0, 123456789, time.UTC)
)

func codec(t testing.TB, secret []byte, previous ...[]byte) *Codec {
	t.Helper()
	c, err := NewCodec(secret, previous...)
	if err != nil {
		t.Fatalf("NewCodec = %v", err)
	}
	return c
}

func TestRoundTrip(t *testing.T) {
	c := codec(t, secretA)
	paris := time.FixedZone("CET", 3600)
	for _, tc := range []struct {
		name string
		in   Token
		want Token
	}{
		{"zero", Token{}, Token{}},
		{"account write", Token{Revision: 4711, Account: "org_01JD3QZ8M6X4T5W2K9B7C1D0EF", Version: 3, Time: when},
			Token{Revision: 4711, Account: "org_01JD3QZ8M6X4T5W2K9B7C1D0EF", Version: 3, Time: when.Truncate(time.Microsecond)}},
		{"no account", Token{Revision: 1, Time: when}, Token{Revision: 1, Time: when.Truncate(time.Microsecond)}},
		{"extremes", Token{Revision: math.MaxInt64, Account: strings.Repeat("z", MaxAccountLen), Version: math.MinInt64},
			Token{Revision: math.MaxInt64, Account: strings.Repeat("z", MaxAccountLen), Version: math.MinInt64}},
		{"other zone", Token{Revision: 2, Time: when.In(paris)}, Token{Revision: 2, Time: when.Truncate(time.Microsecond)}},
		{"before 1970", Token{Time: time.Date(1969, 7, 20, 20, 17, 0, 1500, time.UTC)},
			Token{Time: time.Date(1969, 7, 20, 20, 17, 0, 1000, time.UTC)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := c.Encode(tc.in)
			if len(s) > MaxTokenLen {
				t.Errorf("len(Encode) = %d, over MaxTokenLen", len(s))
			}
			if strings.ContainsAny(s, "+/=") {
				t.Errorf("Encode = %q, want unpadded base64url", s)
			}
			got, err := c.Decode(s)
			if err != nil {
				t.Fatalf("Decode(Encode(%+v)) = %v", tc.in, err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("Decode(Encode(%+v)) mismatch (-want +got):\n%s", tc.in, diff)
			}
			if got.Time.Location() != time.UTC {
				t.Errorf("Decode time zone = %v, want UTC", got.Time.Location())
			}
		})
	}
}

func TestTokenIsCompact(t *testing.T) {
	s := codec(t, secretA).Encode(Token{Revision: 1 << 40, Account: "org_01JD3QZ8M6X4T5W2K9B7C1D0EF", Version: 12, Time: when})
	if len(s) > 100 {
		t.Errorf("len(Encode(typical)) = %d, want at most 100", len(s))
	}
}

func TestDecodeRejects(t *testing.T) {
	c := codec(t, secretA)
	valid := c.Encode(Token{Revision: 9, Account: "usr_01JD3QZ8M6X4T5W2K9B7C1D0EF", Version: 2, Time: when})
	raw, _ := base64.RawURLEncoding.DecodeString(valid)
	// signed re-signs a body with the real key: it checks the parser behind
	// the MAC, which only a holder of the secret can reach.
	signed := func(body ...byte) string {
		return base64.RawURLEncoding.EncodeToString(append(body, c.mac(c.keys[0], body)...))
	}
	body := raw[:len(raw)-macLen]
	cases := map[string]string{
		"empty":            "",
		"too long":         strings.Repeat("A", MaxTokenLen+1),
		"not base64":       "!!!!",
		"padded":           valid + "=",
		"std alphabet":     strings.NewReplacer("-", "+", "_", "/").Replace(valid) + "+/",
		"extended":         valid + "AA",
		"newline inside":   valid[:10] + "\n" + valid[10:],
		"trailing newline": valid + "\r\n",
		"mac only":         base64.RawURLEncoding.EncodeToString(raw[len(raw)-macLen:]),
		"other secret":     codec(t, secretB).Encode(Token{Revision: 9}),
		"mac truncated":    base64.RawURLEncoding.EncodeToString(raw[:len(raw)-1]),
		"byte inserted":    base64.RawURLEncoding.EncodeToString(append(append(bytes.Clone(body), 0), raw[len(body):]...)),
		"unknown version":  signed(append([]byte{2}, body[1:]...)...),
		"trailing field":   signed(append(bytes.Clone(body), 0)...),
		"missing time":     signed(formatVersion, 0, 0, 0),
		"account overruns": signed(formatVersion, 0, 10, 'a', 0, 0),
		"account too long": signed(append(append([]byte{formatVersion, 0, 0x81, 0x01}, bytes.Repeat([]byte{'a'}, MaxAccountLen+1)...), 0, 0)...),
		"bad varint":       signed(formatVersion, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01, 0, 0, 0),
	}
	for i := range len(valid) {
		cases["truncated to "+strconv.Itoa(i)] = valid[:i]
	}
	for i := range len(raw) * 8 {
		bad := bytes.Clone(raw)
		bad[i/8] ^= 1 << (i % 8)
		cases["bit "+strconv.Itoa(i)+" flipped"] = base64.RawURLEncoding.EncodeToString(bad)
	}
	for name, s := range cases {
		_, err := c.Decode(s)
		if !fault.Is(err, fault.Invalid) {
			t.Errorf("Decode(%s) = %v, want Invalid", name, err)
			continue
		}
		if msg, _ := fault.PublicOf(err); msg != invalidMsg {
			t.Errorf("Decode(%s) public message = %q, want %q", name, msg, invalidMsg)
		}
		if len(s) > 8 && strings.Contains(err.Error(), s) {
			t.Errorf("Decode(%s) error echoes the token: %v", name, err)
		}
	}
}

func TestSecretRotation(t *testing.T) {
	old, rotated := codec(t, secretA), codec(t, secretB, secretA)
	tok := Token{Revision: 5, Time: when.Truncate(time.Microsecond)}
	if got, err := rotated.Decode(old.Encode(tok)); err != nil || got != tok {
		t.Errorf("rotated.Decode(old token) = %+v, %v; want %+v, nil", got, err, tok)
	}
	if _, err := old.Decode(rotated.Encode(tok)); err == nil {
		t.Errorf("old.Decode(rotated token) = nil error, want Invalid: the new secret signs")
	}
	if _, err := codec(t, secretB).Decode(old.Encode(tok)); err == nil {
		t.Errorf("Decode(token of a dropped secret) = nil error, want Invalid")
	}
}

func TestNewCodecRejectsShortSecrets(t *testing.T) {
	short := secretA[:MinSecretLen-1]
	for name, tc := range map[string][][]byte{"nil": {nil}, "short": {short}, "short previous": {secretA, short}} {
		if _, err := NewCodec(tc[0], tc[1:]...); !fault.Is(err, fault.Invalid) {
			t.Errorf("NewCodec(%s) = %v, want Invalid", name, err)
		}
	}
}

func TestEncodePanicsOnOverlongAccount(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Errorf("Encode(account of MaxAccountLen+1 bytes) did not panic")
		}
	}()
	codec(t, secretA).Encode(Token{Account: strings.Repeat("a", MaxAccountLen+1)})
}

func TestCovers(t *testing.T) {
	base := Token{Revision: 10, Account: "usr_1", Version: 3, Time: when}
	later := when.Add(time.Millisecond)
	for _, tc := range []struct {
		name   string
		t, o   Token
		covers bool
	}{
		{"itself", base, base, true},
		{"zero covers zero", Token{}, Token{}, true},
		{"newer revision and time", Token{Revision: 11, Time: later}, base, true},
		{"older revision", Token{Revision: 9, Time: later}, base, false},
		{"older time", Token{Revision: 11, Time: when.Add(-time.Microsecond)}, base, false},
		{"same account, newer version", Token{Revision: 10, Account: "usr_1", Version: 4, Time: when}, base, true},
		{"same account, older version", Token{Revision: 10, Account: "usr_1", Version: 2, Time: when}, base, false},
		{"other account, older version", Token{Revision: 10, Account: "usr_2", Version: 1, Time: when}, base, true},
		{"non-account write", Token{Revision: 10, Time: when}, base, true},
		{"older covers nothing newer", base, Token{Revision: 11, Time: later}, false},
		{"missing revision, by time", Token{Time: later}, Token{Time: when}, true},
		{"missing revision, older time", Token{Time: when}, Token{Time: later}, false},
	} {
		if got := tc.t.Covers(tc.o); got != tc.covers {
			t.Errorf("%s: %+v.Covers(%+v) = %v, want %v", tc.name, tc.t, tc.o, got, tc.covers)
		}
	}
}

func FuzzDecode(f *testing.F) {
	c := codec(f, secretA)
	f.Add(c.Encode(Token{}))
	f.Add(c.Encode(Token{Revision: 4711, Account: "org_01JD3QZ8M6X4T5W2K9B7C1D0EF", Version: 3, Time: when}))
	f.Add(c.Encode(Token{Revision: -1, Account: strings.Repeat("x", MaxAccountLen), Version: math.MaxInt64}))
	f.Add(codec(f, secretB).Encode(Token{Revision: 1}))
	f.Add("AQ")
	f.Add(strings.Repeat("_", MaxTokenLen))
	f.Fuzz(func(t *testing.T, s string) {
		tok, err := c.Decode(s)
		if err != nil {
			if !fault.Is(err, fault.Invalid) {
				t.Fatalf("Decode(%q) = %v, want Invalid", s, err)
			}
			return
		}
		if again := c.Encode(tok); again != s {
			t.Fatalf("Decode(%q) = %+v, which encodes to %q", s, tok, again)
		}
	})
}
