package envelope

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"testing"

	"github.com/atriumid/atrium/internal/fault"
)

func TestWrapUnwrapRoundTrip(t *testing.T) {
	r, _ := testKeyring(t, "k1")
	dek, wrapped := newTestDataKey(t, r)
	if got, want := len(wrapped), 2+len("k1")+nonceSize+keySize+tagSize; got != want {
		t.Errorf("len(wrapped) = %d, want %d", got, want)
	}
	again, err := r.Unwrap(wrapped)
	if err != nil {
		t.Fatalf("Unwrap = %v", err)
	}
	aad := FragmentAAD("usr_1", "profile")
	ct, _ := dek.Seal([]byte("secret"), aad)
	if got, err := again.Open(ct, aad); err != nil || string(got) != "secret" {
		t.Errorf("Unwrap(wrapped).Open(Seal) = %q, %v; want secret", got, err)
	}
	_, wrapped2 := newTestDataKey(t, r)
	if other, err := r.Unwrap(wrapped2); err == nil {
		if _, err := other.Open(ct, aad); err == nil {
			t.Errorf("another account's data key opens the ciphertext")
		}
	}
}

func TestUnwrapRejectsTampering(t *testing.T) {
	r, _ := testKeyring(t, "k1")
	_, wrapped := newTestDataKey(t, r)
	for i := range len(wrapped) * 8 {
		bad := bytes.Clone(wrapped)
		bad[i/8] ^= 1 << (i % 8)
		_, err := r.Unwrap(bad)
		wantCorrupt(t, "Unwrap(bit "+strconv.Itoa(i)+" flipped)", err, ErrCorrupt, ErrUnknownKey)
		_, _, err = r.Rewrap(bad)
		wantCorrupt(t, "Rewrap(bit "+strconv.Itoa(i)+" flipped)", err, ErrCorrupt, ErrUnknownKey)
	}
	for n := range len(wrapped) {
		_, err := r.Unwrap(wrapped[:n])
		wantCorrupt(t, "Unwrap(truncated to "+strconv.Itoa(n)+")", err, ErrCorrupt)
	}
	_, err := r.Unwrap(append(bytes.Clone(wrapped), 0))
	wantCorrupt(t, "Unwrap(extended)", err, ErrCorrupt)

	// A wrapped key relabelled with the id of another KEK in the ring.
	r2, _ := testKeyring(t, "k1", "k2")
	_, w2 := newTestDataKey(t, r2)
	w2[3] = '2'
	_, err = r2.Unwrap(w2)
	wantCorrupt(t, "Unwrap(relabelled)", err, ErrCorrupt)
}

func TestRotation(t *testing.T) {
	k1, _ := GenerateKey("k1")
	k2, _ := GenerateKey("k2")
	old, _ := NewKeyring([]Key{k1})
	rotated, _ := NewKeyring([]Key{k2, k1})
	onlyNew, _ := NewKeyring([]Key{k2})
	if got := rotated.PrimaryID(); got != "k2" {
		t.Errorf("PrimaryID() = %q, want k2", got)
	}

	dek, wrapped := newTestDataKey(t, old)
	aad := FragmentAAD("org_1", "tax_id")
	ct, _ := dek.Seal([]byte(`{"ein":"12-3456789"}`), aad)

	if _, err := rotated.Unwrap(wrapped); err != nil {
		t.Errorf("rotated.Unwrap(old wrapped) = %v, want nil", err)
	}
	_, err := onlyNew.Unwrap(wrapped)
	wantCorrupt(t, "onlyNew.Unwrap(old wrapped)", err, ErrUnknownKey)

	moved, changed, err := rotated.Rewrap(wrapped)
	if err != nil || !changed {
		t.Fatalf("Rewrap(old wrapped) = _, %v, %v; want true, nil", changed, err)
	}
	if got := string(moved[2 : 2+moved[1]]); got != "k2" {
		t.Errorf("Rewrap(old wrapped) is under %q, want k2", got)
	}
	back, err := onlyNew.Unwrap(moved)
	if err != nil {
		t.Fatalf("onlyNew.Unwrap(rewrapped) = %v", err)
	}
	if got, err := back.Open(ct, aad); err != nil || !bytes.Contains(got, []byte("12-3456789")) {
		t.Errorf("Open after rotation = %q, %v; want the plaintext", got, err)
	}

	same, changed, err := rotated.Rewrap(moved)
	if err != nil || changed || !bytes.Equal(same, moved) {
		t.Errorf("Rewrap(already primary) = changed %v, %v; want the same bytes, false, nil", changed, err)
	}
}

func TestNewKeyringRejects(t *testing.T) {
	good, _ := GenerateKey("k1")
	many := make([]Key, maxKeyringKeys+1)
	for i := range many {
		many[i], _ = GenerateKey("k" + strconv.Itoa(i))
	}
	for name, keys := range map[string][]Key{
		"none":       nil,
		"too many":   many,
		"empty id":   {{ID: "", Secret: good.Secret}},
		"long id":    {{ID: strings.Repeat("a", maxKeyIDLen+1), Secret: good.Secret}},
		"bad id":     {{ID: "k:1", Secret: good.Secret}},
		"space id":   {{ID: "k 1", Secret: good.Secret}},
		"duplicate":  {good, {ID: "k1", Secret: make([]byte, keySize)}},
		"short key":  {{ID: "k1", Secret: good.Secret[:31]}},
		"long key":   {{ID: "k1", Secret: append(bytes.Clone(good.Secret), 0)}},
		"nil secret": {{ID: "k1"}},
	} {
		if _, err := NewKeyring(keys); !fault.Is(err, fault.Invalid) {
			t.Errorf("NewKeyring(%s) = %v, want Invalid", name, err)
		}
	}
	if _, err := NewKeyring(many[:maxKeyringKeys]); err != nil {
		t.Errorf("NewKeyring(%d keys) = %v, want nil", maxKeyringKeys, err)
	}
	if _, err := GenerateKey("no/slash"); !fault.Is(err, fault.Invalid) {
		t.Errorf("GenerateKey(no/slash) = %v, want Invalid", err)
	}
}

func TestParseKeyring(t *testing.T) {
	secret := bytes.Repeat([]byte{0xfb, 0xff, 0xbe}, 11)[:keySize] // encodes with + / - _ in every alphabet
	for name, enc := range map[string]*base64.Encoding{
		"std": base64.StdEncoding, "raw std": base64.RawStdEncoding,
		"url": base64.URLEncoding, "raw url": base64.RawURLEncoding,
	} {
		spec := " new:" + enc.EncodeToString(secret) + " , old-1_A:" + enc.EncodeToString(make([]byte, keySize)) + "\n"
		r, err := ParseKeyring(spec)
		if err != nil {
			t.Errorf("ParseKeyring(%s) = %v", name, err)
			continue
		}
		if got := fmt.Sprint(r); got != "envelope.Keyring{primary: new, ids: [new old-1_A]}" {
			t.Errorf("ParseKeyring(%s) = %s", name, got)
		}
	}

	k, _ := GenerateKey("fresh")
	r1, err := ParseKeyring(k.String())
	if err != nil {
		t.Fatalf("ParseKeyring(Key.String()) = %v", err)
	}
	r2, _ := NewKeyring([]Key{k})
	_, wrapped := newTestDataKey(t, r1)
	if _, err := r2.Unwrap(wrapped); err != nil {
		t.Errorf("a keyring parsed from Key.String() is not the same key: %v", err)
	}
}

func TestParseKeyringRejects(t *testing.T) {
	b64 := base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{0x5a}, keySize))
	short := base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{0x5a}, keySize-1))
	long := base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{0x5a}, keySize+1))
	nonCanonical := base64.RawStdEncoding.EncodeToString(bytes.Repeat([]byte{0x5a}, keySize))
	nonCanonical = nonCanonical[:len(nonCanonical)-1] + "p" // sets padding bits
	for _, spec := range []string{
		"", " \n", ",", "k1:" + b64 + ",", ",k1:" + b64, b64, ":" + b64, "k1:", "k1:" + short, "k1:" + long,
		"k1:" + nonCanonical, "k 1:" + b64, "k1:" + b64 + ",k1:" + b64, "k1=" + b64, "k1:" + b64 + "!",
		"k1:" + b64[:20] + " " + b64[20:], "k1:" + b64[:20] + "\n" + b64[20:], "k1:" + b64[:20] + "\r\n" + b64[20:], strings.Repeat("k:"+b64+",", maxKeyringKeys) + "z:" + b64,
		strings.Repeat(" ", maxKeyringSpec+1),
		b64 + ":k1", // swapped: the secret must not be echoed as an id
	} {
		_, err := ParseKeyring(spec)
		if !fault.Is(err, fault.Invalid) {
			t.Errorf("ParseKeyring(%.40q) = %v, want Invalid", spec, err)
			continue
		}
		msg, _ := fault.PublicOf(err)
		for _, leak := range []string{b64, b64[:12], short[:12], long[:12], nonCanonical[:12]} {
			if strings.Contains(err.Error(), leak) || strings.Contains(msg, leak) {
				t.Errorf("ParseKeyring(%.40q) error %q echoes the key", spec, err)
			}
		}
	}
}

// secretForms returns the ways a careless print could show key bytes.
func secretForms(secret []byte) []string {
	return []string{
		base64.StdEncoding.EncodeToString(secret)[:16],
		base64.URLEncoding.EncodeToString(secret)[:16],
		hex.EncodeToString(secret)[:16],
		strings.ToUpper(hex.EncodeToString(secret)[:16]),
		strings.Trim(fmt.Sprint(secret[:6]), "[]"),
		strings.Trim(fmt.Sprintf("%#v", secret[:6]), "[]byte{}"),
		string(secret[:6]),
	}
}

func TestRedaction(t *testing.T) {
	k, _ := GenerateKey("k1")
	r, _ := NewKeyring([]Key{k})
	dek := DataKey{aead: newAEAD(k.Secret)} // a data key whose bytes the test knows
	type holder struct {
		dek  DataKey
		ring *Keyring
	}
	values := map[string]any{
		"Key":               k,
		"*Key":              &k,
		"DataKey":           dek,
		"*DataKey":          &dek,
		"*Keyring":          r,
		"Keyring":           *r,
		"[]Key":             []Key{k},
		"unexported fields": holder{dek, r},
		"exported fields": struct {
			K    Key
			D    DataKey
			Ring *Keyring
		}{k, dek, r},
	}
	for name, v := range values {
		var out []string
		for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%d"} {
			out = append(out, fmt.Sprintf(verb, v))
		}
		var logs bytes.Buffer
		slog.New(slog.NewTextHandler(&logs, nil)).Info("m", "v", v)
		slog.New(slog.NewJSONHandler(&logs, nil)).Info("m", "v", v)
		out = append(out, logs.String())
		for _, o := range out {
			for _, form := range secretForms(k.Secret) {
				if strings.Contains(o, form) {
					t.Errorf("printing %s shows the secret (%q): %s", name, form, o)
				}
			}
		}
	}
	if got, want := fmt.Sprint(k), "k1:[redacted]"; got != want {
		t.Errorf("fmt.Sprint(Key) = %q, want %q", got, want)
	}
	if got, want := fmt.Sprintf("%#v", dek), "[redacted]"; got != want {
		t.Errorf("Sprintf(%%#v, DataKey) = %q, want %q", got, want)
	}
	if _, err := json.Marshal(k); err == nil {
		t.Errorf("json.Marshal(Key) = nil error, want a refusal")
	}
	if !strings.HasPrefix(k.String(), "k1:") || !strings.Contains(k.String(), base64.StdEncoding.EncodeToString(k.Secret)) {
		t.Errorf("Key.String() = redacted, want the spec form")
	}
}
