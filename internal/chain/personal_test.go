package chain

import (
	"bytes"
	"errors"
	"testing"

	"github.com/atriumid/atrium/internal/fault"
)

type personalVector struct {
	Name               string `json:"name"`
	Address            string `json:"address"`
	MessageHex         string `json:"message_hex"`
	PrefixedMessageHex string `json:"prefixed_message_hex"`
	Digest             string `json:"digest"`
	Signature          string `json:"signature"`
	Variants           []struct {
		Signature   string `json:"signature"`
		Description string `json:"description"`
		ValidStrict bool   `json:"valid_strict"`
	} `json:"signature_variants"`
}

func loadPersonal(t *testing.T) []personalVector {
	return loadVectorList[personalVector](t, "eip191/personal_sign.json", 17)
}

func TestPersonalMessageHashVectors(t *testing.T) {
	for _, v := range loadPersonal(t) {
		msg := unhex(t, v.MessageHex)
		prefixed := unhex(t, v.PrefixedMessageHex)
		if want := append([]byte(personalPrefix), prefixed[len(personalPrefix):]...); !bytes.HasSuffix(prefixed, msg) || !bytes.Equal(prefixed, want) {
			t.Fatalf("%s: vector prefixed message is not the EIP-191 form", v.Name)
		}
		if got, want := PersonalMessageHash(msg), Keccak256(prefixed); got != want || !bytes.Equal(got[:], unhex(t, v.Digest)) {
			t.Errorf("PersonalMessageHash(%s) = %x, want %s", v.Name, got, v.Digest)
		}
	}
}

func TestRecoverPersonalVectors(t *testing.T) {
	n := 0
	for _, v := range loadPersonal(t) {
		msg := unhex(t, v.MessageHex)
		want, err := ParseAddressStrict(v.Address)
		if err != nil {
			t.Fatal(err)
		}
		if got, err := RecoverPersonal(msg, unhex(t, v.Signature)); err != nil || got != want {
			t.Errorf("RecoverPersonal(%s, signature) = %v, %v; want %v, nil", v.Name, got, err, want)
		}
		for _, s := range v.Variants {
			n++
			got, err := RecoverPersonal(msg, unhex(t, s.Signature))
			if ok := err == nil && got == want; ok != s.ValidStrict {
				t.Errorf("RecoverPersonal(%s, %s) = %v, %v; want valid = %v", v.Name, s.Description, got, err, s.ValidStrict)
			}
			if err != nil && !fault.Is(err, fault.Invalid) {
				t.Errorf("RecoverPersonal(%s, %s) error kind %v, want Invalid", v.Name, s.Description, fault.KindOf(err))
			}
		}
	}
	if n != 17*9 {
		t.Errorf("checked %d signature variants, want %d", n, 17*9)
	}
}

func TestRecoverPersonalErrorCauses(t *testing.T) {
	v := loadPersonal(t)[0]
	msg, sig := unhex(t, v.MessageHex), unhex(t, v.Signature)
	mod := func(f func(s []byte) []byte) []byte { return f(bytes.Clone(sig)) }
	for _, c := range []struct {
		name string
		sig  []byte
		want error
	}{
		{"empty", nil, ErrSignatureFormat},
		{"63 bytes", sig[:63], ErrSignatureFormat},
		{"v = 2", mod(func(s []byte) []byte { s[64] = 2; return s }), ErrSignatureFormat},
		{"v = 26", mod(func(s []byte) []byte { s[64] = 26; return s }), ErrSignatureFormat},
		{"r = 0", mod(func(s []byte) []byte { clear(s[:32]); return s }), ErrSignatureRange},
		{"r = 2^256-1", mod(func(s []byte) []byte { copy(s[:32], bytes.Repeat([]byte{0xff}, 32)); return s }), ErrSignatureRange},
		{"s = 0", mod(func(s []byte) []byte { clear(s[32:64]); return s }), ErrSignatureRange},
		{"s = n-1", mod(func(s []byte) []byte {
			copy(s[32:64], unhex(t, "fffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364140"))
			return s
		}), ErrSignatureHighS},
		{"compact with high s", func() []byte {
			s := bytes.Clone(sig[:64])
			copy(s[32:], unhex(t, "7fffffffffffffffffffffffffffffff5d576e7357a4501ddfe92f46681b20a1")) // n/2 + 1
			return s
		}(), ErrSignatureHighS},
	} {
		_, err := RecoverPersonal(msg, c.sig)
		if !errors.Is(err, c.want) || !fault.Is(err, fault.Invalid) {
			t.Errorf("RecoverPersonal(%s) = %v, want Invalid wrapping %v", c.name, err, c.want)
		}
	}
}

func FuzzRecoverPersonal(f *testing.F) {
	f.Add([]byte("hello world"), []byte{})
	f.Add([]byte(""), bytes.Repeat([]byte{1}, 64))
	f.Add([]byte("x"), append(bytes.Repeat([]byte{1}, 64), 27))
	f.Add([]byte("x"), append(bytes.Repeat([]byte{0xff}, 64), 0))
	f.Fuzz(func(t *testing.T, msg, sig []byte) {
		a, err := RecoverPersonal(msg, sig)
		if err != nil {
			if !fault.Is(err, fault.Invalid) || !a.IsZero() {
				t.Fatalf("RecoverPersonal = %v, %v; want zero address and an Invalid error", a, err)
			}
			return
		}
		if len(sig) != 64 && len(sig) != 65 {
			t.Fatalf("RecoverPersonal accepted a %d-byte signature", len(sig))
		}
	})
}
