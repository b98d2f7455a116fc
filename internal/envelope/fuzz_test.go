package envelope

import (
	"bytes"
	"testing"

	"github.com/atriumid/atrium/internal/fault"
)

// fuzzKeys are fixed so that seeds sealed under them stay meaningful.
var fuzzKeys = []Key{
	{ID: "primary", Secret: bytes.Repeat([]byte{1}, keySize)},
	{ID: "old", Secret: bytes.Repeat([]byte{2}, keySize)},
}

func FuzzOpen(f *testing.F) {
	r, _ := NewKeyring(fuzzKeys)
	dek, _, _ := r.NewDataKey()
	aad := FragmentAAD("usr_1", "profile")
	for _, pt := range []string{"", "x", `{"name":"Ada Lovelace"}`} {
		ct, _ := dek.Seal([]byte(pt), aad)
		f.Add(ct, aad)
		f.Add(ct, []byte{})
	}
	f.Add([]byte{dataVersion}, []byte{})
	f.Add(make([]byte, Overhead), []byte{})
	f.Fuzz(func(t *testing.T, ct, aad []byte) {
		pt, err := dek.Open(ct, aad)
		if err == nil {
			// Only a ciphertext that Seal made opens; re-sealing must round-trip.
			again, err := dek.Seal(pt, aad)
			if err != nil || len(again) != len(ct) {
				t.Fatalf("Open accepted %x but re-Seal = %x, %v", ct, again, err)
			}
			return
		}
		if !fault.Is(err, fault.Internal) {
			t.Fatalf("Open(%x) = %v, want Internal", ct, err)
		}
	})
}

func FuzzUnwrap(f *testing.F) {
	old, _ := NewKeyring(fuzzKeys[1:])
	r, _ := NewKeyring(fuzzKeys)
	_, w1, _ := r.NewDataKey()
	_, w2, _ := old.NewDataKey()
	f.Add(w1)
	f.Add(w2)
	f.Add([]byte{wrapVersion, 3, 'o', 'l', 'd'})
	f.Add([]byte{wrapVersion, 0})
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, wrapped []byte) {
		_, err := r.Unwrap(wrapped)
		moved, changed, rerr := r.Rewrap(wrapped)
		if (err == nil) != (rerr == nil) {
			t.Fatalf("Unwrap(%x) = %v but Rewrap = %v", wrapped, err, rerr)
		}
		if err != nil {
			if !fault.Is(err, fault.Internal) {
				t.Fatalf("Unwrap(%x) = %v, want Internal", wrapped, err)
			}
			return
		}
		if _, again, err := r.Rewrap(moved); err != nil || again {
			t.Fatalf("Rewrap(Rewrap(%x)) = changed %v, %v; want false, nil (first changed %v)", wrapped, again, err, changed)
		}
	})
}

func FuzzParseKeyring(f *testing.F) {
	for _, k := range fuzzKeys {
		f.Add(k.String())
	}
	f.Add(fuzzKeys[0].String() + "," + fuzzKeys[1].String() + "\n")
	f.Add("k:AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE")
	f.Add("k:AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=,k:AQ")
	f.Add(":,:")
	f.Fuzz(func(t *testing.T, spec string) {
		r, err := ParseKeyring(spec)
		if err != nil {
			if !fault.Is(err, fault.Invalid) {
				t.Fatalf("ParseKeyring(%q) = %v, want Invalid", spec, err)
			}
			return
		}
		if !validKeyID(r.PrimaryID()) {
			t.Fatalf("ParseKeyring(%q).PrimaryID() = %q, not a valid id", spec, r.PrimaryID())
		}
		if _, w, err := r.NewDataKey(); err != nil {
			t.Fatalf("NewDataKey = %v", err)
		} else if _, err := r.Unwrap(w); err != nil {
			t.Fatalf("Unwrap(NewDataKey) = %v", err)
		}
	})
}
