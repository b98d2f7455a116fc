package apikey

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"regexp"
	"strings"
	"testing"

	"github.com/atriumid/atrium/internal/fault"
)

var shape = regexp.MustCompile(`^atr_[a-z2-7]{12}_[A-Za-z0-9_-]{43}$`)

func newKey(t testing.TB) Key {
	t.Helper()
	k, err := New()
	if err != nil {
		t.Fatalf("New() = %v", err)
	}
	return k
}

func TestNewShape(t *testing.T) {
	ids, secrets := map[string]bool{}, map[string]bool{}
	for range 1000 {
		k := newKey(t)
		if !shape.MatchString(k.Secret) {
			t.Fatalf("New().Secret = %q, want the shape %s", k.Secret, shape)
		}
		if id, err := Parse(k.Secret); err != nil || id != k.ID {
			t.Fatalf("Parse(New().Secret) = %q, %v; want %q, nil", id, err, k.ID)
		}
		if ids[k.ID] || secrets[k.Secret] {
			t.Fatalf("New() repeated an id or secret after %d keys", len(ids))
		}
		ids[k.ID], secrets[k.Secret] = true, true
	}
}

func TestParseRejects(t *testing.T) {
	k := newKey(t)
	s, id := k.Secret, k.ID
	sep := len(Prefix) + idLen
	for name, in := range map[string]string{
		"empty":               "",
		"prefix only":         Prefix,
		"upper-case prefix":   "ATR_" + s[4:],
		"other prefix":        "atx_" + s[4:],
		"no separator":        s[:sep] + "-" + s[sep+1:],
		"id with 0":           Prefix + "0" + id[1:] + s[sep:],
		"id with 1":           Prefix + id[:11] + "1" + s[sep:],
		"id upper-case":       Prefix + strings.ToUpper(id) + s[sep:],
		"id short":            Prefix + id[1:] + s[sep:] + "A",
		"secret short":        s[:len(s)-1],
		"secret long":         s + "A",
		"secret padded":       s + "=",
		"secret std alphabet": s[:sep+1] + "+/" + s[sep+3:],
		"secret non-canon":    s[:len(s)-1] + "B", // 43 symbols hold 258 bits; the last 2 must be zero
		"secret line break":   s[:sep+5] + "\n" + s[sep+5:len(s)-1],
		"bearer scheme":       "Bearer " + s,
		"trailing newline":    s + "\n",
		"leading space":       " " + s[:len(s)-1],
		"over MaxLen":         s + strings.Repeat("A", MaxLen),
		"huge":                strings.Repeat(s, 1<<14),
	} {
		got, err := Parse(in)
		if !fault.Is(err, fault.Unauthenticated) {
			t.Errorf("Parse(%s) = %q, %v; want Unauthenticated", name, got, err)
			continue
		}
		msg, _ := fault.PublicOf(err)
		if strings.Contains(err.Error(), id) || strings.Contains(msg, id) || strings.Contains(err.Error(), s[sep+1:sep+12]) {
			t.Errorf("Parse(%s) error %q repeats the input", name, err)
		}
	}
}

func TestVerify(t *testing.T) {
	k, other := newKey(t), newKey(t)
	stored := Hash(k.Secret)
	if !Verify(k.Secret, stored) {
		t.Errorf("Verify(key, Hash(key)) = false, want true")
	}
	flipped := []byte(k.Secret)
	flipped[len(flipped)-5] ^= 1
	for name, tc := range map[string]struct {
		bearer string
		stored []byte
	}{
		"other key":         {other.Secret, stored},
		"other key's hash":  {k.Secret, Hash(other.Secret)},
		"one bit off":       {string(flipped), stored},
		"id only":           {k.ID, stored},
		"nil stored":        {k.Secret, nil},
		"truncated stored":  {k.Secret, stored[:16]},
		"extended stored":   {k.Secret, append(bytes.Clone(stored), 0)},
		"empty bearer":      {"", stored},
		"over MaxLen":       {strings.Repeat("a", MaxLen+1), Hash(strings.Repeat("a", MaxLen+1))},
		"stored is the key": {k.Secret, []byte(k.Secret)},
	} {
		if Verify(tc.bearer, tc.stored) {
			t.Errorf("Verify(%s) = true, want false", name)
		}
	}
}

func TestHashIsSHA256(t *testing.T) {
	// The stored hashes outlive any release: pin the function.
	for in, want := range map[string]string{
		"":    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
		"abc": "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
	} {
		if got := hex.EncodeToString(Hash(in)); got != want {
			t.Errorf("Hash(%q) = %s, want %s", in, got, want)
		}
	}
}

func TestKeyRedaction(t *testing.T) {
	k := newKey(t)
	secret := k.Secret[len(Prefix)+idLen+1:]
	var out []string
	for _, v := range []any{k, &k, []Key{k}, struct{ K Key }{k}} {
		for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x"} {
			out = append(out, fmt.Sprintf(verb, v))
		}
	}
	var logs bytes.Buffer
	slog.New(slog.NewTextHandler(&logs, nil)).Info("m", "key", k)
	slog.New(slog.NewJSONHandler(&logs, nil)).Info("m", "key", k)
	out = append(out, logs.String())
	for _, o := range out {
		if strings.Contains(o, secret[:12]) || strings.Contains(o, hex.EncodeToString([]byte(secret[:8]))) {
			t.Errorf("printing a Key shows its secret: %s", o)
		}
	}
	if got, want := fmt.Sprint(k), "atr_"+k.ID+"_[redacted]"; got != want {
		t.Errorf("fmt.Sprint(Key) = %q, want %q", got, want)
	}
	if shape.MatchString(k.String()) {
		t.Errorf("Key.String() = %q matches the shape of a live key", k.String())
	}
	if _, err := json.Marshal(k); err == nil {
		t.Errorf("json.Marshal(Key) = nil error, want a refusal")
	}
}

func FuzzParse(f *testing.F) {
	f.Add(newKey(f).Secret)
	f.Add("atr_aaaaaaaaaaaa_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")
	f.Add("atr_aaaaaaaaaaaa_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAB")
	f.Add("atr_aaaaaaaaaaaa_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\n")
	f.Add("atr_")
	f.Fuzz(func(t *testing.T, s string) {
		id, err := Parse(s)
		if err != nil {
			if !fault.Is(err, fault.Unauthenticated) {
				t.Fatalf("Parse(%q) = %v, want Unauthenticated", s, err)
			}
			return
		}
		if !shape.MatchString(s) || id != s[len(Prefix):len(Prefix)+idLen] {
			t.Fatalf("Parse(%q) = %q, nil; not a key", s, id)
		}
		if !Verify(s, Hash(s)) {
			t.Fatalf("Verify(%q, Hash) = false", s)
		}
	})
}
