package evm

import (
	"context"
	"encoding/hex"
	"errors"
	"testing"

	"github.com/ethereum/go-ethereum/crypto"

	"github.com/atriumid/atrium/internal/chain"
	"github.com/atriumid/atrium/internal/chain/abi"
	"github.com/atriumid/atrium/internal/chain/ens"
	"github.com/atriumid/atrium/internal/fault"
)

func selector(sig string) [4]byte { return [4]byte(crypto.Keccak256([]byte(sig))) }

// reverseNode is the node of "<address in lower-case hex>.addr.reverse".
func reverseNode(a chain.Address) [32]byte {
	return chain.Namehash(hex.EncodeToString(a[:]) + ".addr.reverse")
}

// TestENS resolves names through the mock Universal Resolver on the local
// chain: forward records, reverse records that agree or lie, and a
// resolver that asks for CCIP-Read.
func TestENS(t *testing.T) {
	c := startChain(t)
	alice, mallory, carol, nobody := chain.Address{0xa1}, chain.Address{0x3a}, chain.Address{0xc0}, chain.Address{0x0b}
	setResolver := func(node [32]byte) {
		c.send(t, universalAddr, abi.Call(selector("setResolver(bytes32,address)"), node, chain.Address(resolverAddr)))
	}
	for _, name := range []string{"alice.eth", "offchain.eth"} {
		setResolver(chain.Namehash(name))
	}
	c.send(t, resolverAddr, abi.Call(selector("setAddr(bytes32,address)"), chain.Namehash("alice.eth"), alice))
	c.send(t, resolverAddr, abi.Call(selector("setOffchain(bytes32)"), chain.Namehash("offchain.eth")))
	for addr, name := range map[chain.Address]string{alice: "alice.eth", mallory: "alice.eth", carol: "Alice.eth"} {
		setResolver(reverseNode(addr))
		c.send(t, resolverAddr, abi.Call(selector("setName(bytes32,string)"), reverseNode(addr), name))
	}

	r := ens.NewResolver(c.client(t, devChainID), devChainID, chain.Address(universalAddr))
	ctx := context.Background()

	forward := []struct {
		name  string
		want  chain.Address
		kind  fault.Kind
		cause error
	}{
		{"alice.eth", alice, 0, nil},
		{"ALICE.eth", alice, 0, nil},
		{"bob.eth", chain.Address{}, fault.NotFound, ens.ErrNoAddress},
		{"offchain.eth", chain.Address{}, fault.FailedPrecondition, ens.ErrOffchainLookup},
	}
	for _, tt := range forward {
		got, err := r.Address(ctx, tt.name)
		if tt.kind == 0 && (err != nil || got != tt.want) {
			t.Errorf("Address(%q) = %v, %v, want %v", tt.name, got, err, tt.want)
		}
		if tt.kind != 0 && (!fault.Is(err, tt.kind) || !errors.Is(err, tt.cause)) {
			t.Errorf("Address(%q) = %v, %v, want kind %v cause %v", tt.name, got, err, tt.kind, tt.cause)
		}
	}

	reverse := []struct {
		addr  chain.Address
		want  string
		cause error
	}{
		{alice, "alice.eth", nil},
		{mallory, "", ens.ErrForwardMismatch},
		{carol, "", ens.ErrNotNormalised},
		{nobody, "", ens.ErrNoPrimaryName},
	}
	for _, tt := range reverse {
		got, err := r.PrimaryName(ctx, tt.addr)
		if tt.cause == nil && (err != nil || got != tt.want) {
			t.Errorf("PrimaryName(%v) = %q, %v, want %q", tt.addr, got, err, tt.want)
		}
		if tt.cause != nil && (!fault.Is(err, fault.NotFound) || !errors.Is(err, tt.cause)) {
			t.Errorf("PrimaryName(%v) = %q, %v, want NotFound wrapping %v", tt.addr, got, err, tt.cause)
		}
	}
}
