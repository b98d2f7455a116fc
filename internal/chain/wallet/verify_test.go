package wallet

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"strings"
	"testing"

	"github.com/decred/dcrd/dcrec/secp256k1/v4"
	"github.com/decred/dcrd/dcrec/secp256k1/v4/ecdsa"
	"github.com/google/go-cmp/cmp"

	"github.com/atriumid/atrium/internal/chain"
	"github.com/atriumid/atrium/internal/chain/abi"
	"github.com/atriumid/atrium/internal/chain/ethrpc"
	"github.com/atriumid/atrium/internal/fault"
	"github.com/atriumid/atrium/internal/testvectors"
)

// fakeChain answers Code and Call from fields and records the calls. A nil
// fakeChain pointer inside a Verifier is never used: tests that must not
// touch the chain pass a fakeChain with forbid set.
type fakeChain struct {
	t       *testing.T
	forbid  bool
	code    []byte
	codeErr error
	out     []byte
	callErr error

	gotTo   *chain.Address
	gotData []byte
	calls   int
}

func (f *fakeChain) Code(_ context.Context, chainID uint64, addr chain.Address) ([]byte, error) {
	f.t.Helper()
	if f.forbid {
		f.t.Fatalf("Code(%d, %s) called on the key path", chainID, addr)
	}
	f.calls++
	return f.code, f.codeErr
}

func (f *fakeChain) Call(_ context.Context, chainID uint64, to *chain.Address, data []byte) ([]byte, error) {
	f.t.Helper()
	if f.forbid {
		f.t.Fatalf("Call(%d) called on the key path", chainID)
	}
	f.calls++
	f.gotTo, f.gotData = to, data
	return f.out, f.callErr
}

// signer is a test key: keccak256("cow"), the EIP-712 example key.
func signer() (*secp256k1.PrivateKey, chain.Address) {
	k := chain.Keccak256([]byte("cow"))
	priv := secp256k1.PrivKeyFromBytes(k[:])
	pub := priv.PubKey().SerializeUncompressed()
	h := chain.Keccak256(pub[1:])
	var a chain.Address
	copy(a[:], h[12:])
	return priv, a
}

// sign returns the 65-byte r‖s‖v signature of digest, v in {27, 28}.
func sign(priv *secp256k1.PrivateKey, digest [32]byte) []byte {
	c := ecdsa.SignCompact(priv, digest[:], false) // v‖r‖s, v = 27 + parity
	return append(c[1:], c[0])
}

var (
	digest    = chain.PersonalMessageHash([]byte("hello world"))
	wallet    = chain.Address{0x57, 0xa1}
	magicWord = append([]byte{0x16, 0x26, 0xba, 0x7e}, make([]byte, 28)...)
)

func TestKeyPathNeverTouchesTheChain(t *testing.T) {
	priv, addr := signer()
	sig := sign(priv, digest)
	v := NewVerifier(&fakeChain{t: t, forbid: true})
	for _, s := range [][]byte{sig, append(sig[:64:64], sig[64]-27)} {
		got, err := v.Verify(context.Background(), 1, addr, digest, s)
		if err != nil || got != chain.KeyControl {
			t.Errorf("Verify(EOA signature v=%d) = %v, %v, want KeyControl", s[64], got, err)
		}
	}
	if got, err := NewVerifier(nil).Verify(context.Background(), 1, addr, digest, sig); err != nil || got != chain.KeyControl {
		t.Errorf("Verify(EOA signature, no chain) = %v, %v, want KeyControl", got, err)
	}
}

func TestContractPath(t *testing.T) {
	priv, addr := signer()
	eoaSig := sign(priv, digest)
	unavailable := fault.E("ethrpc.Code", fault.Unavailable, "down")
	revert := &fault.Error{Kind: fault.Invalid, Err: &ethrpc.RevertError{}}
	tests := []struct {
		name  string
		addr  chain.Address
		sig   []byte
		fake  fakeChain
		want  chain.Control
		kind  fault.Kind
		cause error
	}{
		{"wallet accepts", wallet, []byte{1, 2, 3}, fakeChain{code: []byte{0x60}, out: magicWord}, chain.ContractControl, 0, nil},
		{"EOA signature of another key goes to the contract", wallet, eoaSig, fakeChain{code: []byte{0x60}, out: magicWord}, chain.ContractControl, 0, nil},
		{"no code", wallet, eoaSig, fakeChain{}, 0, fault.Unauthenticated, ErrBadSignature},
		{"high-s twin of the key's signature", addr, highS(eoaSig), fakeChain{}, 0, fault.Unauthenticated, ErrBadSignature},
		{"wallet refuses", wallet, []byte{1}, fakeChain{code: []byte{0x60}, out: append([]byte{0xff, 0xff, 0xff, 0xff}, make([]byte, 28)...)}, 0, fault.Unauthenticated, ErrBadSignature},
		{"magic without padding", wallet, []byte{1}, fakeChain{code: []byte{0x60}, out: magicWord[:4]}, 0, fault.Unauthenticated, ErrBadSignature},
		{"magic with more after it", wallet, []byte{1}, fakeChain{code: []byte{0x60}, out: append(bytes.Clone(magicWord), magicWord...)}, 0, fault.Unauthenticated, ErrBadSignature},
		{"magic with dirty padding", wallet, []byte{1}, fakeChain{code: []byte{0x60}, out: append([]byte{0x16, 0x26, 0xba, 0x7e, 1}, make([]byte, 27)...)}, 0, fault.Unauthenticated, ErrBadSignature},
		{"wallet reverts", wallet, []byte{1}, fakeChain{code: []byte{0x60}, callErr: revert}, 0, fault.Unauthenticated, ErrBadSignature},
		{"code unavailable", wallet, []byte{1}, fakeChain{codeErr: unavailable}, 0, fault.Unavailable, nil},
		{"call unavailable", wallet, []byte{1}, fakeChain{code: []byte{0x60}, callErr: unavailable}, 0, fault.Unavailable, nil},
		{"plain error from the chain fails closed", wallet, []byte{1}, fakeChain{codeErr: errors.New("boom")}, 0, fault.Unavailable, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.fake.t = t
			got, err := NewVerifier(&tt.fake).Verify(context.Background(), 1, tt.addr, digest, tt.sig)
			if tt.want != 0 {
				if err != nil || got != tt.want {
					t.Fatalf("Verify() = %v, %v, want %v", got, err, tt.want)
				}
				if want := isValidSignatureCall(digest, tt.sig); !bytes.Equal(tt.fake.gotData, want) || *tt.fake.gotTo != tt.addr {
					t.Errorf("eth_call to %v data %x, want to %v data %x", tt.fake.gotTo, tt.fake.gotData, tt.addr, want)
				}
				return
			}
			if !fault.Is(err, tt.kind) || (tt.cause != nil && !errors.Is(err, tt.cause)) {
				t.Errorf("Verify() = %v, %v, want kind %v cause %v", got, err, tt.kind, tt.cause)
			}
		})
	}
}

// highS returns the malleated twin of a low-s signature: s' = n - s, v
// flipped.
func highS(sig []byte) []byte {
	var s secp256k1.ModNScalar
	s.SetByteSlice(sig[32:64])
	s.Negate()
	b := s.Bytes()
	out := append(bytes.Clone(sig[:32]), b[:]...)
	return append(out, sig[64]^1)
}

// TestIsValidSignatureCall checks the calldata against the ABI encoding
// written out by hand: selector, digest, offset 0x40, length, padded bytes.
func TestIsValidSignatureCall(t *testing.T) {
	var d [32]byte
	d[31] = 0xdd
	got := hex.EncodeToString(isValidSignatureCall(d, []byte{0xaa, 0xbb}))
	want := "1626ba7e" +
		strings.Repeat("0", 62) + "dd" +
		strings.Repeat("0", 62) + "40" +
		strings.Repeat("0", 62) + "02" +
		"aabb" + strings.Repeat("0", 60)
	if got != want {
		t.Errorf("isValidSignatureCall() =\n%s, want\n%s", got, want)
	}
}

// TestABIEncodeMatchesERC6492Vectors checks abi.Encode against the shared
// ERC-6492 wrapping vectors, whose wrappers are abi.encode(address, bytes,
// bytes) followed by the magic suffix.
func TestABIEncodeMatchesERC6492Vectors(t *testing.T) {
	var file struct {
		Vectors []struct {
			Name            string
			Factory         string
			FactoryCalldata string
			InnerSignature  string
			Signature       string
			Decodes         bool `json:"decodes"`
		}
	}
	testvectors.Decode(t, "eip1271/erc6492-wrapping.json", &file)
	n := 0
	for _, v := range file.Vectors {
		if !v.Decodes || v.Factory == "" {
			continue
		}
		n++
		factory, err := chain.ParseAddress(v.Factory)
		if err != nil {
			t.Fatal(err)
		}
		got := "0x" + hex.EncodeToString(abi.Encode(factory, mustHex(t, v.FactoryCalldata), mustHex(t, v.InnerSignature))) + strings.Repeat("6492", 16)
		if got != strings.ToLower(v.Signature) {
			t.Errorf("%s: abi.Encode() =\n%s, want\n%s", v.Name, got, v.Signature)
		}
	}
	if n == 0 {
		t.Fatal("no decodable vectors")
	}
}

func mustHex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.TrimPrefix(s, "0x"))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestCounterfactual(t *testing.T) {
	factory := chain.Address{0xfa, 0xc7}
	calldata := []byte{0xde, 0xad, 0xbe, 0xef}
	inner := []byte{1, 2, 3}
	sig := append(abi.Encode(factory, calldata, inner), bytes.Repeat([]byte{0x64, 0x92}, 16)...)
	tests := []struct {
		name  string
		fake  fakeChain
		want  chain.Control
		kind  fault.Kind
		cause error
	}{
		{"accepted", fakeChain{out: []byte{1}}, chain.ContractControl, 0, nil},
		{"rejected", fakeChain{out: []byte{0}}, 0, fault.Unauthenticated, ErrBadSignature},
		{"not deployed", fakeChain{out: []byte{2}}, 0, fault.Unauthenticated, ErrNotDeployed},
		{"reverted", fakeChain{callErr: &fault.Error{Kind: fault.Invalid, Err: &ethrpc.RevertError{}}}, 0, fault.Unauthenticated, ErrBadSignature},
		{"empty output", fakeChain{out: []byte{}}, 0, fault.Unavailable, ErrUnexpectedOutput},
		{"unknown status", fakeChain{out: []byte{3}}, 0, fault.Unavailable, ErrUnexpectedOutput},
		{"word output", fakeChain{out: magicWord}, 0, fault.Unavailable, ErrUnexpectedOutput},
		{"unavailable", fakeChain{callErr: fault.E("ethrpc.Call", fault.Unavailable, "down")}, 0, fault.Unavailable, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.fake.t = t
			got, err := NewVerifier(&tt.fake).Verify(context.Background(), 1, wallet, digest, sig)
			if tt.want != 0 {
				if err != nil || got != tt.want {
					t.Fatalf("Verify() = %v, %v, want %v", got, err, tt.want)
				}
			} else if !fault.Is(err, tt.kind) || (tt.cause != nil && !errors.Is(err, tt.cause)) {
				t.Fatalf("Verify() = %v, %v, want kind %v cause %v", got, err, tt.kind, tt.cause)
			}
			if tt.fake.gotTo != nil {
				t.Errorf("validator call has to = %v, want a creation call", tt.fake.gotTo)
			}
			args := abi.Encode(wallet, digest, factory, calldata, inner)
			if diff := cmp.Diff(append(bytes.Clone(validatorCode), args...), tt.fake.gotData); diff != "" {
				t.Errorf("validator call data (-want +got):\n%s", diff)
			}
		})
	}
}

func TestCounterfactualRejectsBadWrapperOffline(t *testing.T) {
	sig := append(bytes.Repeat([]byte{0xff}, 96), bytes.Repeat([]byte{0x64, 0x92}, 16)...)
	_, err := NewVerifier(&fakeChain{t: t, forbid: true}).Verify(context.Background(), 1, wallet, digest, sig)
	if !fault.Is(err, fault.Invalid) || !errors.Is(err, chain.ErrERC6492Encoding) {
		t.Errorf("Verify(malformed wrapper) = %v, want Invalid wrapping ErrERC6492Encoding", err)
	}
}

func TestNoChain(t *testing.T) {
	sig := append(abi.Encode(wallet, []byte{1}, []byte{2}), bytes.Repeat([]byte{0x64, 0x92}, 16)...)
	for _, s := range [][]byte{{1, 2, 3}, sig} {
		if _, err := NewVerifier(nil).Verify(context.Background(), 1, wallet, digest, s); !fault.Is(err, fault.FailedPrecondition) {
			t.Errorf("Verify(no chain) = %v, want fault.FailedPrecondition", err)
		}
	}
}

func TestTooLong(t *testing.T) {
	_, err := NewVerifier(&fakeChain{t: t, forbid: true}).Verify(context.Background(), 1, wallet, digest, make([]byte, chain.MaxWrappedSignatureLen+1))
	if !fault.Is(err, fault.Invalid) {
		t.Errorf("Verify(too long) = %v, want fault.Invalid", err)
	}
}

func TestValidatorCode(t *testing.T) {
	if len(validatorCode) < 100 || validatorCode[0] != 0x60 {
		t.Fatalf("validatorCode = %d bytes starting %x, want the compiled creation code", len(validatorCode), validatorCode[:min(4, len(validatorCode))])
	}
}

func TestMagicIsTheSelector(t *testing.T) {
	if h := chain.Keccak256([]byte("isValidSignature(bytes32,bytes)")); [4]byte(h[:4]) != erc1271Magic {
		t.Errorf("erc1271Magic = %x, want %x", erc1271Magic, h[:4])
	}
}

// FuzzVerify checks that no signature makes Verify panic and that every
// outcome is a control kind or a classified error, against a chain that
// accepts, refuses, or answers with garbage.
func FuzzVerify(f *testing.F) {
	priv, _ := signer()
	f.Add(sign(priv, digest), []byte{1})
	f.Add(append(abi.Encode(wallet, []byte{1}, []byte{2}), bytes.Repeat([]byte{0x64, 0x92}, 16)...), []byte{2})
	f.Add(bytes.Repeat([]byte{0x64, 0x92}, 16), magicWord)
	f.Add([]byte{}, []byte{})
	f.Fuzz(func(t *testing.T, sig, out []byte) {
		got, err := NewVerifier(&fakeChain{t: t, code: []byte{0x60}, out: out}).Verify(context.Background(), 1, wallet, digest, sig)
		if err == nil {
			if got != chain.KeyControl && got != chain.ContractControl {
				t.Fatalf("Verify() = %v with no error", got)
			}
			return
		}
		switch fault.KindOf(err) {
		case fault.Invalid, fault.Unauthenticated, fault.Unavailable:
		default:
			t.Fatalf("Verify() = %v, an unexpected kind", err)
		}
	})
}
