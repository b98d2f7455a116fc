package ens

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"strings"
	"testing"

	"github.com/atriumid/atrium/internal/chain"
	"github.com/atriumid/atrium/internal/chain/abi"
	"github.com/atriumid/atrium/internal/chain/ethrpc"
	"github.com/atriumid/atrium/internal/fault"
)

var (
	universal = chain.Address{0x0e, 0x45}
	resolver  = chain.Address{0x4e, 0x50}
	alice     = chain.Address{0xa1}
	mallory   = chain.Address{0x3a}
)

// fakeUniversal answers resolve(bytes,bytes) from forward (keyed by the
// DNS-encoded name) and reverse(bytes,uint256) from reverse, with canned
// raw answers or errors where set.
type fakeUniversal struct {
	t       *testing.T
	forward map[string]chain.Address
	reverse map[chain.Address]string
	raw     []byte // returned as is when not nil
	err     error  // returned when not nil
	offFor  string // DNS-encoded name answered with OffchainLookup
}

func revert(data []byte) error {
	return &fault.Error{Kind: fault.Invalid, Err: &ethrpc.RevertError{Data: data}}
}

func (f *fakeUniversal) Call(_ context.Context, chainID uint64, to *chain.Address, data []byte) ([]byte, error) {
	f.t.Helper()
	if chainID != 1 || to == nil || *to != universal {
		f.t.Fatalf("Call(chain %d, to %v), want chain 1 and the Universal Resolver", chainID, to)
	}
	if f.err != nil {
		return nil, f.err
	}
	if f.raw != nil {
		return f.raw, nil
	}
	arg, err := abi.Bytes(data[4:], 0)
	if err != nil {
		f.t.Fatalf("calldata %x: %v", data, err)
	}
	switch [4]byte(data[:4]) {
	case selResolve:
		if string(arg) == f.offFor {
			return nil, revert(append(bytes.Clone(offchainLookup), make([]byte, 64)...))
		}
		a, ok := f.forward[string(arg)]
		if !ok {
			return nil, revert([]byte{0x77, 0x19, 0x9d, 0x95}) // a custom error, such as ResolverNotFound
		}
		return abi.Encode(abi.Encode(a), resolver), nil
	case selReverse:
		return abi.Encode(f.reverse[chain.Address(arg)], chain.Address{}, resolver), nil
	}
	f.t.Fatalf("unexpected selector %x", data[:4])
	return nil, nil
}

func dns(t *testing.T, name string) string {
	t.Helper()
	b, err := chain.DNSEncode(name)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestAddress(t *testing.T) {
	fake := func(t *testing.T) *fakeUniversal {
		return &fakeUniversal{t: t, forward: map[string]chain.Address{
			dns(t, "alice.eth"): alice,
			dns(t, "empty.eth"): {},
		}, offFor: dns(t, "offchain.eth")}
	}
	tests := []struct {
		name  string
		input string
		setup func(*fakeUniversal)
		want  chain.Address
		kind  fault.Kind
		cause error
	}{
		{"found", "alice.eth", nil, alice, 0, nil},
		{"normalised first", "Alice.ETH", nil, alice, 0, nil},
		{"no resolver", "bob.eth", nil, chain.Address{}, fault.NotFound, ErrNoAddress},
		{"zero address", "empty.eth", nil, chain.Address{}, fault.NotFound, ErrNoAddress},
		{"CCIP-Read", "offchain.eth", nil, chain.Address{}, fault.FailedPrecondition, ErrOffchainLookup},
		{"invalid name", "te--st.eth", nil, chain.Address{}, fault.Invalid, nil},
		{"empty label", "alice..eth", nil, chain.Address{}, fault.Invalid, nil},
		{"chain down", "alice.eth", func(f *fakeUniversal) { f.err = fault.E("ethrpc.Call", fault.Unavailable, "down") }, chain.Address{}, fault.Unavailable, nil},
		{"plain error fails closed", "alice.eth", func(f *fakeUniversal) { f.err = errors.New("boom") }, chain.Address{}, fault.Unavailable, nil},
		{"malformed answer", "alice.eth", func(f *fakeUniversal) { f.raw = []byte{1, 2, 3} }, chain.Address{}, fault.Unavailable, abi.ErrEncoding},
		{"result not one word", "alice.eth", func(f *fakeUniversal) { f.raw = abi.Encode(make([]byte, 64), resolver) }, chain.Address{}, fault.Unavailable, abi.ErrEncoding},
		{"result not an address", "alice.eth", func(f *fakeUniversal) { f.raw = abi.Encode(bytes.Repeat([]byte{0xff}, 32), resolver) }, chain.Address{}, fault.Unavailable, abi.ErrEncoding},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := fake(t)
			if tt.setup != nil {
				tt.setup(f)
			}
			got, err := NewResolver(f, 1, universal).Address(context.Background(), tt.input)
			if tt.kind == 0 {
				if err != nil || got != tt.want {
					t.Fatalf("Address(%q) = %v, %v, want %v", tt.input, got, err, tt.want)
				}
				return
			}
			if !fault.Is(err, tt.kind) || (tt.cause != nil && !errors.Is(err, tt.cause)) {
				t.Fatalf("Address(%q) = %v, %v, want kind %v cause %v", tt.input, got, err, tt.kind, tt.cause)
			}
		})
	}
}

func TestPrimaryName(t *testing.T) {
	carol := chain.Address{0xc0}
	dave := chain.Address{0xda}
	erin := chain.Address{0xe0}
	f := func(t *testing.T) *fakeUniversal {
		return &fakeUniversal{
			t: t,
			forward: map[string]chain.Address{
				dns(t, "alice.eth"): alice,
			},
			reverse: map[chain.Address]string{
				alice:   "alice.eth",
				mallory: "alice.eth",    // claims a name that resolves elsewhere
				carol:   "Alice.eth",    // not normalised
				dave:    "nobody.eth",   // resolves nowhere
				erin:    "offchain.eth", // forward needs CCIP-Read
			},
			offFor: dns(t, "offchain.eth"),
		}
	}
	tests := []struct {
		name  string
		addr  chain.Address
		want  string
		kind  fault.Kind
		cause error
	}{
		{"forward and reverse agree", alice, "alice.eth", 0, nil},
		{"forward disagrees", mallory, "", fault.NotFound, ErrForwardMismatch},
		{"forward missing", dave, "", fault.NotFound, ErrForwardMismatch},
		{"not normalised", carol, "", fault.NotFound, ErrNotNormalised},
		{"no primary name", chain.Address{0x99}, "", fault.NotFound, ErrNoPrimaryName},
		{"forward needs CCIP-Read", erin, "", fault.FailedPrecondition, ErrOffchainLookup},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := NewResolver(f(t), 1, universal).PrimaryName(context.Background(), tt.addr)
			if tt.kind == 0 {
				if err != nil || got != tt.want {
					t.Fatalf("PrimaryName(%v) = %q, %v, want %q", tt.addr, got, err, tt.want)
				}
				return
			}
			if !fault.Is(err, tt.kind) || !errors.Is(err, tt.cause) {
				t.Fatalf("PrimaryName(%v) = %q, %v, want kind %v cause %v", tt.addr, got, err, tt.kind, tt.cause)
			}
		})
	}
}

func TestPrimaryNameMalformed(t *testing.T) {
	for _, raw := range [][]byte{{}, abi.Encode(uint64(1 << 40))} {
		fu := &fakeUniversal{t: t, raw: raw}
		if _, err := NewResolver(fu, 1, universal).PrimaryName(context.Background(), alice); !fault.Is(err, fault.Unavailable) {
			t.Errorf("PrimaryName(answer %x) = %v, want fault.Unavailable", raw, err)
		}
	}
}

// TestReverseCalldata checks the reverse(bytes,uint256) calldata against
// the encoding written out by hand.
func TestReverseCalldata(t *testing.T) {
	a := chain.Address{0: 0xab, 19: 0xcd}
	got := hex.EncodeToString(abi.Call(selReverse, a[:], uint64(ethCoinType)))
	want := "5d78a217" +
		strings.Repeat("0", 62) + "40" +
		strings.Repeat("0", 62) + "3c" +
		strings.Repeat("0", 62) + "14" +
		"ab" + strings.Repeat("0", 36) + "cd" + strings.Repeat("0", 24)
	if got != want {
		t.Errorf("reverse calldata =\n%s, want\n%s", got, want)
	}
}

// TestSelectors recomputes every selector from its signature.
func TestSelectors(t *testing.T) {
	for sig, sel := range map[string][]byte{
		"resolve(bytes,bytes)":   selResolve[:],
		"reverse(bytes,uint256)": selReverse[:],
		"addr(bytes32)":          selAddr[:],
		"OffchainLookup(address,string[],bytes,bytes4,bytes)": offchainLookup,
	} {
		if h := chain.Keccak256([]byte(sig)); !bytes.Equal(h[:4], sel) {
			t.Errorf("selector of %s = %x, want %x", sig, sel, h[:4])
		}
	}
	if got, want := MainnetUniversalResolver.String(), "0xeEeEEEeE14D718C2B47D9923Deab1335E144EeEe"; got != want {
		t.Errorf("MainnetUniversalResolver = %s, want %s", got, want)
	}
}
