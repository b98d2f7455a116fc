package chain

import (
	"errors"
	"strings"
	"testing"

	"github.com/decred/dcrd/dcrec/secp256k1/v4"

	"github.com/atriumid/atrium/internal/fault"
)

type eip55Vector struct {
	Input         string `json:"input"`
	ValidChecksum bool   `json:"valid_checksum"`
	Checksummed   string `json:"checksummed"`
	Why           string `json:"why"`
}

func loadEIP55(t *testing.T) []eip55Vector {
	return loadVectorList[eip55Vector](t, "eip55/eip55.json", 25)
}

// noChecksum reports whether s is a well-formed address with letters of
// one case only, which carries no checksum.
func noChecksum(s string) bool {
	return len(s) == 42 && strings.HasPrefix(s, "0x") && (s[2:] == strings.ToLower(s[2:]) || s[2:] == strings.ToUpper(s[2:]))
}

func TestParseAddressStrictEIP55Vectors(t *testing.T) {
	for _, v := range loadEIP55(t) {
		a, err := ParseAddressStrict(v.Input)
		if v.ValidChecksum {
			if err != nil || a.String() != v.Checksummed {
				t.Errorf("ParseAddressStrict(%q) = %v, %v; want %s (%s)", v.Input, a, err, v.Checksummed, v.Why)
			}
			continue
		}
		if err == nil {
			t.Errorf("ParseAddressStrict(%q) = %v, nil; want an error (%s)", v.Input, a, v.Why)
		} else if !fault.Is(err, fault.Invalid) {
			t.Errorf("ParseAddressStrict(%q) error kind = %v, want Invalid", v.Input, fault.KindOf(err))
		}
	}
}

func TestParseAddressEIP55Vectors(t *testing.T) {
	for _, v := range loadEIP55(t) {
		a, err := ParseAddress(v.Input)
		accept := v.ValidChecksum || (v.Checksummed != "" && noChecksum(v.Input))
		if !accept {
			if err == nil {
				t.Errorf("ParseAddress(%q) = %v, nil; want an error (%s)", v.Input, a, v.Why)
			}
			continue
		}
		if err != nil || a.String() != v.Checksummed {
			t.Errorf("ParseAddress(%q) = %v, %v; want %s (%s)", v.Input, a, err, v.Checksummed, v.Why)
		}
	}
}

func TestParseAddressChecksumCause(t *testing.T) {
	for _, parse := range []func(string) (Address, error){ParseAddress, ParseAddressStrict} {
		_, err := parse("0x5AAeb6053F3E94C9b9A09f33669435E7Ef1BeAed")
		if !errors.Is(err, ErrChecksum) || !fault.Is(err, fault.Invalid) {
			t.Errorf("parse(flipped letter) = %v, want Invalid wrapping ErrChecksum", err)
		}
	}
	if _, err := ParseAddress("0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAeZ"); errors.Is(err, ErrChecksum) || err == nil {
		t.Errorf("ParseAddress(non-hex) = %v, want a format error that is not ErrChecksum", err)
	}
}

func TestAddressFromPrivateKeyVectors(t *testing.T) {
	var cases []struct {
		Name       string `json:"name"`
		PrivateKey string `json:"privateKey"`
		Address    string `json:"address"`
	}
	loadVectors(t, "eip55/accounts-ethers.json.gz", &cases)
	if len(cases) != 259 {
		t.Fatalf("read %d account vectors, want 259", len(cases))
	}
	for _, c := range cases {
		key := secp256k1.PrivKeyFromBytes(unhex(t, c.PrivateKey))
		got := pubkeyAddress(key.PubKey())
		if got.String() != c.Address {
			t.Errorf("pubkeyAddress(key %s) = %s, want %s", c.Name, got, c.Address)
		}
		if a, err := ParseAddressStrict(c.Address); err != nil || a != got {
			t.Errorf("ParseAddressStrict(%s) = %v, %v; want %v, nil", c.Address, a, err, got)
		}
	}
}

func TestAddressText(t *testing.T) {
	const s = "0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359"
	var a Address
	if err := a.UnmarshalText([]byte(strings.ToLower(s))); err != nil {
		t.Fatalf("UnmarshalText(lower) = %v", err)
	}
	b, _ := a.MarshalText()
	if string(b) != s {
		t.Errorf("MarshalText() = %s, want %s", b, s)
	}
	if a.IsZero() || !(Address{}).IsZero() {
		t.Errorf("IsZero is wrong")
	}
	if err := a.UnmarshalText([]byte(strings.Repeat("0", 1<<10))); !fault.Is(err, fault.Invalid) {
		t.Errorf("UnmarshalText(long) = %v, want Invalid", err)
	}
}

func FuzzParseAddress(f *testing.F) {
	f.Add("0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed")
	f.Add("0x5aaeb6053f3e94c9b9a09f33669435e7ef1beaed")
	f.Add("0X5AAEB6053F3E94C9B9A09F33669435E7EF1BEAED")
	f.Add("0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAe")
	f.Fuzz(func(t *testing.T, s string) {
		a, err := ParseAddress(s)
		strict, serr := ParseAddressStrict(s)
		if serr == nil && (err != nil || strict != a || strict.String() != s) {
			t.Fatalf("ParseAddressStrict(%q) = %v accepted, ParseAddress = %v, %v", s, strict, a, err)
		}
		if err != nil {
			if !fault.Is(err, fault.Invalid) {
				t.Fatalf("ParseAddress(%q) error kind %v, want Invalid", s, fault.KindOf(err))
			}
			return
		}
		if !strings.EqualFold(a.String(), s) {
			t.Fatalf("ParseAddress(%q) = %s, which is another address", s, a)
		}
		if b, err := ParseAddressStrict(a.String()); err != nil || b != a {
			t.Fatalf("ParseAddressStrict(%s) = %v, %v; want %v", a, b, err, a)
		}
	})
}
