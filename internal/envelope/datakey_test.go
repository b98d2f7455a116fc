package envelope

import (
	"bytes"
	"errors"
	"strconv"
	"testing"

	"github.com/atriumid/atrium/internal/fault"
)

func testKeyring(t testing.TB, ids ...string) (*Keyring, []Key) {
	t.Helper()
	var keys []Key
	for _, id := range ids {
		k, err := GenerateKey(id)
		if err != nil {
			t.Fatalf("GenerateKey(%q) = %v", id, err)
		}
		keys = append(keys, k)
	}
	r, err := NewKeyring(keys)
	if err != nil {
		t.Fatalf("NewKeyring = %v", err)
	}
	return r, keys
}

func newTestDataKey(t testing.TB, r *Keyring) (DataKey, []byte) {
	t.Helper()
	dek, wrapped, err := r.NewDataKey()
	if err != nil {
		t.Fatalf("NewDataKey = %v", err)
	}
	return dek, wrapped
}

// wantCorrupt fails t unless err is an Internal fault caused by one of causes.
func wantCorrupt(t *testing.T, what string, err error, causes ...error) {
	t.Helper()
	if err == nil {
		t.Fatalf("%s = nil error, want an Internal fault", what)
	}
	if k := fault.KindOf(err); k != fault.Internal {
		t.Errorf("%s: kind = %v, want internal", what, k)
	}
	for _, c := range causes {
		if errors.Is(err, c) {
			return
		}
	}
	t.Errorf("%s = %v, want cause in %v", what, err, causes)
}

func TestSealOpenRoundTrip(t *testing.T) {
	r, _ := testKeyring(t, "k1")
	dek, _ := newTestDataKey(t, r)
	for _, tc := range []struct {
		name      string
		plaintext []byte
		aad       []byte
	}{
		{"empty", nil, FragmentAAD("usr_1", "profile")},
		{"one byte", []byte{0}, FragmentAAD("usr_1", "profile")},
		{"json", []byte(`{"ein":"12-3456789"}`), FragmentAAD("org_1", "tax_id")},
		{"no aad", []byte("hello"), nil},
		{"large", bytes.Repeat([]byte("x"), 1<<16), FragmentAAD("usr_1", "kyc")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ct, err := dek.Seal(tc.plaintext, tc.aad)
			if err != nil {
				t.Fatalf("Seal = %v", err)
			}
			if got, want := len(ct), len(tc.plaintext)+Overhead; got != want {
				t.Errorf("len(Seal) = %d, want %d", got, want)
			}
			if len(tc.plaintext) > 8 && bytes.Contains(ct, tc.plaintext[:8]) {
				t.Errorf("Seal output contains the plaintext")
			}
			got, err := dek.Open(ct, tc.aad)
			if err != nil || !bytes.Equal(got, tc.plaintext) {
				t.Errorf("Open(Seal(%.20q)) = %.20q, %v; want the plaintext", tc.plaintext, got, err)
			}
		})
	}
}

func TestSealUsesFreshNonces(t *testing.T) {
	r, _ := testKeyring(t, "k1")
	dek, _ := newTestDataKey(t, r)
	a, _ := dek.Seal([]byte("same"), nil)
	b, _ := dek.Seal([]byte("same"), nil)
	if bytes.Equal(a, b) {
		t.Errorf("Seal twice = equal ciphertexts, want different nonces")
	}
}

func TestOpenRejectsTampering(t *testing.T) {
	r, _ := testKeyring(t, "k1")
	dek, _ := newTestDataKey(t, r)
	other, _ := newTestDataKey(t, r)
	aad := FragmentAAD("usr_1", "profile")
	ct, err := dek.Seal([]byte(`{"name":"Ada"}`), aad)
	if err != nil {
		t.Fatal(err)
	}
	for i := range len(ct) * 8 {
		bad := bytes.Clone(ct)
		bad[i/8] ^= 1 << (i % 8)
		_, err := dek.Open(bad, aad)
		wantCorrupt(t, "Open(bit "+strconv.Itoa(i)+" flipped)", err, ErrCorrupt)
	}
	for n := range len(ct) {
		_, err := dek.Open(ct[:n], aad)
		wantCorrupt(t, "Open(truncated to "+strconv.Itoa(n)+")", err, ErrCorrupt)
	}
	for name, tc := range map[string]struct {
		dek DataKey
		ct  []byte
		aad []byte
	}{
		"extended":         {dek, append(bytes.Clone(ct), 0), aad},
		"other account":    {dek, ct, FragmentAAD("usr_2", "profile")},
		"other fragment":   {dek, ct, FragmentAAD("usr_1", "addresses")},
		"no aad":           {dek, ct, nil},
		"other data key":   {other, ct, aad},
		"version 2":        {dek, append([]byte{2}, ct[1:]...), aad},
		"over max":         {dek, make([]byte, MaxPlaintext+Overhead+1), aad},
		"zero data key":    {DataKey{}, ct, aad},
		"prefix shifted":   {dek, append(ct[:1:1], ct[2:]...), aad},
		"aad moved inside": {dek, ct, append(bytes.Clone(aad), 0)},
	} {
		_, err := tc.dek.Open(tc.ct, tc.aad)
		wantCorrupt(t, "Open("+name+")", err, ErrCorrupt, errZeroKey)
	}
}

func TestSealRejects(t *testing.T) {
	r, _ := testKeyring(t, "k1")
	dek, _ := newTestDataKey(t, r)
	if _, err := dek.Seal(make([]byte, MaxPlaintext+1), nil); !fault.Is(err, fault.TooLarge) {
		t.Errorf("Seal(MaxPlaintext+1 bytes) = %v, want TooLarge", err)
	}
	if _, err := dek.Seal(make([]byte, MaxPlaintext), nil); err != nil {
		t.Errorf("Seal(MaxPlaintext bytes) = %v, want nil", err)
	}
	if _, err := (DataKey{}).Seal([]byte("x"), nil); !fault.Is(err, fault.Internal) || !errors.Is(err, errZeroKey) {
		t.Errorf("DataKey{}.Seal = %v, want Internal", err)
	}
}

func TestFragmentAADIsUnambiguous(t *testing.T) {
	seen := map[string][2]string{}
	for _, p := range [][2]string{{"ab", "c"}, {"a", "bc"}, {"", "abc"}, {"abc", ""}, {"a\x01b", ""}, {"a", "\x01b"}} {
		k := string(FragmentAAD(p[0], p[1]))
		if q, ok := seen[k]; ok {
			t.Errorf("FragmentAAD(%q) = FragmentAAD(%q)", p, q)
		}
		seen[k] = p
	}
}
