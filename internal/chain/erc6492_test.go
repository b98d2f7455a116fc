package chain

import (
	"bytes"
	"errors"
	"testing"

	"github.com/atriumid/atrium/internal/fault"
	"github.com/atriumid/atrium/internal/testvectors"
)

type erc6492Vector struct {
	Name            string `json:"name"`
	Factory         string `json:"factory"`
	FactoryCalldata string `json:"factoryCalldata"`
	InnerSignature  string `json:"innerSignature"`
	Signature       string `json:"signature"`
	IsERC6492       bool   `json:"is_erc6492"`
	Decodes         bool   `json:"decodes"`
}

func loadERC6492(t *testing.T) (magic string, vs []erc6492Vector) {
	var file struct {
		MagicBytes string          `json:"magicBytes"`
		Vectors    []erc6492Vector `json:"vectors"`
	}
	loadVectors(t, "eip1271/erc6492-wrapping.json", &file)
	if len(file.Vectors) != 7 {
		t.Fatalf("read %d ERC-6492 vectors, want 7", len(file.Vectors))
	}
	return file.MagicBytes, file.Vectors
}

func TestERC6492Vectors(t *testing.T) {
	magic, vs := loadERC6492(t)
	if !bytes.Equal(unhex(t, magic), erc6492Magic) {
		t.Fatalf("magic suffix = %x, want %s", erc6492Magic, magic)
	}
	for _, v := range vs {
		sig := unhex(t, v.Signature)
		if got := IsERC6492(sig); got != v.IsERC6492 {
			t.Errorf("IsERC6492(%s) = %v, want %v", v.Name, got, v.IsERC6492)
		}
		factory, calldata, inner, err := UnwrapERC6492(sig)
		if !v.Decodes {
			if err == nil || !fault.Is(err, fault.Invalid) {
				t.Errorf("UnwrapERC6492(%s) = %v, %x, %x, %v; want an Invalid error", v.Name, factory, calldata, inner, err)
			}
			continue
		}
		wantFactory, perr := ParseAddress(v.Factory)
		if perr != nil {
			t.Fatal(perr)
		}
		if err != nil || factory != wantFactory || !bytes.Equal(calldata, unhex(t, v.FactoryCalldata)) || !bytes.Equal(inner, unhex(t, v.InnerSignature)) {
			t.Errorf("UnwrapERC6492(%s) = %v, %x, %x, %v; want %s, %s, %s, nil", v.Name, factory, calldata, inner, err, v.Factory, v.FactoryCalldata, v.InnerSignature)
		}
	}
}

// wrap6492 builds abi.encode(address, bytes, bytes) ‖ magic by hand.
func wrap6492(factory Address, calldata, inner []byte) []byte {
	word := func(n int) []byte {
		w := make([]byte, 32)
		w[29], w[30], w[31] = byte(n>>16), byte(n>>8), byte(n)
		return w
	}
	padded := func(b []byte) []byte { return append(bytes.Clone(b), make([]byte, (32-len(b)%32)%32)...) }
	var out []byte
	out = append(out, make([]byte, 12)...)
	out = append(out, factory[:]...)
	out = append(out, word(96)...)
	out = append(out, word(96+32+len(padded(calldata)))...)
	out = append(out, word(len(calldata))...)
	out = append(out, padded(calldata)...)
	out = append(out, word(len(inner))...)
	out = append(out, padded(inner)...)
	return append(out, erc6492Magic...)
}

func TestUnwrapERC6492Rejects(t *testing.T) {
	good := wrap6492(Address{1}, []byte("calldata"), []byte("inner signature"))
	if f, c, s, err := UnwrapERC6492(good); err != nil || f != (Address{1}) || string(c) != "calldata" || string(s) != "inner signature" {
		t.Fatalf("UnwrapERC6492(hand-built) = %v, %q, %q, %v", f, c, s, err)
	}
	mod := func(f func(b []byte)) []byte { b := bytes.Clone(good); f(b); return b }
	for _, c := range []struct {
		name string
		sig  []byte
	}{
		{"dirty address padding", mod(func(b []byte) { b[0] = 1 })},
		{"offset into the head", mod(func(b []byte) { b[63] = 64 })},
		{"unaligned offset", mod(func(b []byte) { b[63] = 97 })},
		{"offset past the end", mod(func(b []byte) { b[62] = 0xff })},
		{"offset over 2^24", mod(func(b []byte) { b[60] = 1 })},
		{"huge offset", mod(func(b []byte) { b[32] = 0xff })},
		{"length past the end", mod(func(b []byte) { b[96+31] = 0xff })},
		{"huge length", mod(func(b []byte) { b[96] = 0x80 })},
		{"truncated", append(bytes.Clone(good[:150]), erc6492Magic...)},
		{"too long", append(make([]byte, MaxWrappedSignatureLen), erc6492Magic...)},
	} {
		f, cd, s, err := UnwrapERC6492(c.sig)
		if err == nil || !fault.Is(err, fault.Invalid) || f != (Address{}) || cd != nil || s != nil {
			t.Errorf("UnwrapERC6492(%s) = %v, %x, %x, %v; want zero values and an Invalid error", c.name, f, cd, s, err)
		}
	}
	if _, _, _, err := UnwrapERC6492(mod(func(b []byte) { b[63] = 64 })); !errors.Is(err, ErrERC6492Encoding) {
		t.Errorf("UnwrapERC6492(bad offset) = %v, want ErrERC6492Encoding", err)
	}
}

func FuzzUnwrapERC6492(f *testing.F) {
	var file struct {
		Vectors []erc6492Vector `json:"vectors"`
	}
	if testvectors.Seed(f, "eip1271/erc6492-wrapping.json", &file) {
		for _, v := range file.Vectors {
			f.Add(unhex(f, v.Signature))
		}
	}
	f.Add(wrap6492(Address{1}, nil, nil))
	f.Add(wrap6492(Address{2}, []byte("abc"), bytes.Repeat([]byte{7}, 65)))
	f.Fuzz(func(t *testing.T, sig []byte) {
		factory, calldata, inner, err := UnwrapERC6492(sig)
		if err != nil {
			if !fault.Is(err, fault.Invalid) {
				t.Fatalf("UnwrapERC6492 error kind %v, want Invalid", fault.KindOf(err))
			}
			return
		}
		if !IsERC6492(sig) || len(calldata)+len(inner)+5*32 > len(sig) {
			t.Fatalf("UnwrapERC6492(%x) = %v, %x, %x", sig, factory, calldata, inner)
		}
		// Re-encoding the parts canonically gives a signature that unwraps
		// to the same parts.
		f2, c2, i2, err := UnwrapERC6492(wrap6492(factory, calldata, inner))
		if err != nil || f2 != factory || !bytes.Equal(c2, calldata) || !bytes.Equal(i2, inner) {
			t.Fatalf("round trip of %x = %v, %x, %x, %v", sig, f2, c2, i2, err)
		}
	})
}

func TestParseSignature(t *testing.T) {
	if b, err := ParseSignature("0x00ff"); err != nil || !bytes.Equal(b, []byte{0, 0xff}) {
		t.Errorf("ParseSignature(0x00ff) = %x, %v", b, err)
	}
	if b, err := ParseSignature("0x"); err != nil || len(b) != 0 {
		t.Errorf("ParseSignature(0x) = %x, %v", b, err)
	}
	for _, in := range []string{"", "00ff", "0X00ff", "0x0", "0x0g", "0x" + string(make([]byte, 2*MaxWrappedSignatureLen+2))} {
		if _, err := ParseSignature(in); !fault.Is(err, fault.Invalid) {
			t.Errorf("ParseSignature(%.20q) = %v, want Invalid", in, err)
		}
	}
}
