// Package ens resolves ENS names through the ENS Universal Resolver
// (ENSIP-23): a name's Ethereum address (EIP-137 addr record, coin type 60)
// and an address's primary name (ENSIP-19 reverse resolution).
//
// A primary name is a claim made by whoever controls the address's reverse
// record, and anyone can point a reverse record at any name. PrimaryName
// therefore accepts a name only when it is ENSIP-15 normalised and its own
// forward resolution gives back the address, whatever the Universal
// Resolver already checked.
//
// CCIP-Read (EIP-3668) is off by default: a name whose resolver answers
// with OffchainLookup fails with ErrOffchainLookup. Fetching gateway URLs
// that a resolver names would let any name owner make Atrium send requests
// to hosts of their choosing, so WithCCIPRead follows them only to https
// hosts on an allowlist, never to internal addresses, with time, size,
// redirect and round caps (CCIPConfig).
package ens

import (
	"bytes"
	"context"
	"errors"

	"github.com/atriumid/atrium/internal/chain"
	"github.com/atriumid/atrium/internal/chain/abi"
	"github.com/atriumid/atrium/internal/chain/ethrpc"
	"github.com/atriumid/atrium/internal/fault"
)

// MainnetUniversalResolver is the address of the ENS Universal Resolver
// proxy on Ethereum mainnet (docs.ens.domains, "Deployments").
var MainnetUniversalResolver = chain.Address{0xee, 0xee, 0xee, 0xee, 0x14, 0xd7, 0x18, 0xc2, 0xb4, 0x7d, 0x99, 0x23, 0xde, 0xab, 0x13, 0x35, 0xe1, 0x44, 0xee, 0xee}

// ethCoinType is the SLIP-44 coin type of Ethereum (ENSIP-9), which the
// addr(bytes32) record holds and reverse(bytes,uint256) is asked about.
const ethCoinType = 60

// Function selectors (the first 4 bytes of the Keccak-256 of the signature).
var (
	selResolve = [4]byte{0x90, 0x61, 0xb9, 0x23} // resolve(bytes,bytes)
	selReverse = [4]byte{0x5d, 0x78, 0xa2, 0x17} // reverse(bytes,uint256)
	selAddr    = [4]byte{0x3b, 0x3b, 0x57, 0xde} // addr(bytes32)
	// offchainLookup starts the revert data of EIP-3668
	// OffchainLookup(address,string[],bytes,bytes4,bytes).
	offchainLookup = []byte{0x55, 0x6f, 0x18, 0x30}
)

// Errors that the Resolver wraps, each inside a fault.Error.
var (
	// ErrNoAddress: the name has no resolver or no Ethereum address
	// (fault.NotFound).
	ErrNoAddress = errors.New("ENS name has no address")
	// ErrNoPrimaryName: the address has no primary name (fault.NotFound).
	ErrNoPrimaryName = errors.New("address has no ENS primary name")
	// ErrNotNormalised: the primary name is not ENSIP-15 normalised
	// (fault.NotFound: such a name is no name).
	ErrNotNormalised = errors.New("ENS primary name is not normalised")
	// ErrForwardMismatch: the primary name does not resolve back to the
	// address (fault.NotFound).
	ErrForwardMismatch = errors.New("ENS primary name does not resolve to the address")
	// ErrOffchainLookup: answering needs CCIP-Read (EIP-3668), which is
	// not followed (fault.FailedPrecondition).
	ErrOffchainLookup = errors.New("ENS resolution needs CCIP-Read, which is not enabled")
)

// Chain is what a Resolver needs of a JSON-RPC client: *ethrpc.Client
// implements it. Call fails with fault.Invalid wrapping *ethrpc.RevertError
// when the call reverted and with fault.Unavailable when the chain cannot be
// asked.
type Chain interface {
	Call(ctx context.Context, chainID uint64, to *chain.Address, data []byte) ([]byte, error)
}

// Resolver resolves names through one Universal Resolver on one chain
// (Ethereum mainnet in production: ENS's registry lives there). It is safe
// for concurrent use.
type Resolver struct {
	chain     Chain
	chainID   uint64
	universal chain.Address
	ccip      *ccipReader // nil: OffchainLookup is not followed
}

// NewResolver returns a Resolver that calls the Universal Resolver at
// universal on chain chainID through c.
func NewResolver(c Chain, chainID uint64, universal chain.Address) *Resolver {
	return &Resolver{chain: c, chainID: chainID, universal: universal}
}

// WithCCIPRead returns a copy of r that follows OffchainLookup reverts
// (EIP-3668) to the gateways c allows.
func (r *Resolver) WithCCIPRead(c CCIPConfig) *Resolver {
	out := *r
	out.ccip = newCCIPReader(c)
	return &out
}

// Address returns the Ethereum address of name, which is normalised first
// (ENSIP-15).
//
// Errors: fault.Invalid for a name ENSIP-15 rejects; fault.NotFound
// wrapping ErrNoAddress when the name has no resolver or no address;
// fault.FailedPrecondition wrapping ErrOffchainLookup; fault.Unavailable
// when the chain cannot be asked or its answer is malformed.
func (r *Resolver) Address(ctx context.Context, name string) (chain.Address, error) {
	const op = "ens.Address"
	norm, err := chain.NormalizeENS(name)
	if err != nil {
		return chain.Address{}, fault.Wrap(op, fault.Invalid, err)
	}
	a, err := r.address(ctx, norm)
	return a, fault.Wrap(op, fault.Internal, err)
}

// address resolves a normalised name.
func (r *Resolver) address(ctx context.Context, norm string) (chain.Address, error) {
	dns, err := chain.DNSEncode(norm)
	if err != nil {
		return chain.Address{}, err
	}
	node := chain.Namehash(norm)
	out, err := r.call(ctx, abi.Call(selResolve, dns, abi.Call(selAddr, node)), ErrNoAddress)
	if err != nil {
		return chain.Address{}, err
	}
	// resolve returns (bytes result, address resolver); result is the
	// ABI-encoded address of addr(bytes32).
	result, err := abi.Bytes(out, 0)
	if err != nil || len(result) != abi.WordLen {
		return chain.Address{}, malformed()
	}
	a, err := abi.Address(result, 0)
	if err != nil {
		return chain.Address{}, malformed()
	}
	if a.IsZero() {
		return chain.Address{}, notFound(ErrNoAddress)
	}
	return a, nil
}

// PrimaryName returns the primary name of addr (ENSIP-19 reverse
// resolution, coin type 60), accepted only when it is normalised and
// resolves forward to addr.
//
// Errors: fault.NotFound wrapping ErrNoPrimaryName, ErrNotNormalised or
// ErrForwardMismatch; fault.FailedPrecondition wrapping ErrOffchainLookup;
// fault.Unavailable when the chain cannot be asked or its answer is
// malformed.
func (r *Resolver) PrimaryName(ctx context.Context, addr chain.Address) (string, error) {
	const op = "ens.PrimaryName"
	out, err := r.call(ctx, abi.Call(selReverse, addr[:], uint64(ethCoinType)), ErrNoPrimaryName)
	if err != nil {
		return "", fault.Wrap(op, fault.Internal, err)
	}
	// reverse returns (string primary, address resolver, address
	// reverseResolver).
	name, err := abi.Bytes(out, 0)
	if err != nil || len(name) > chain.MaxENSNameLen {
		return "", fault.Wrap(op, fault.Internal, malformed())
	}
	if len(name) == 0 {
		return "", fault.Wrap(op, fault.Internal, notFound(ErrNoPrimaryName))
	}
	norm, err := chain.NormalizeENS(string(name))
	if err != nil || norm != string(name) {
		return "", fault.Wrap(op, fault.Internal, notFound(ErrNotNormalised))
	}
	fwd, err := r.address(ctx, norm)
	if fault.Is(err, fault.NotFound) || (err == nil && fwd != addr) {
		return "", fault.Wrap(op, fault.Internal, notFound(ErrForwardMismatch))
	}
	if err != nil {
		return "", fault.Wrap(op, fault.Internal, err)
	}
	return norm, nil
}

// call calls the Universal Resolver. A revert means the record is missing
// (notFoundCause), or, for OffchainLookup, that CCIP-Read is needed: when
// it is on, the gateways' answer goes to the callback the revert names,
// which may ask again, up to the configured rounds.
func (r *Resolver) call(ctx context.Context, data []byte, notFoundCause error) ([]byte, error) {
	for round := 0; ; round++ {
		out, err := r.chain.Call(ctx, r.chainID, &r.universal, data)
		rev, ok := errors.AsType[*ethrpc.RevertError](err)
		switch {
		case !ok && err != nil:
			return nil, fault.Wrap("ens.call", fault.Unavailable, err)
		case !ok:
			return out, nil
		case !bytes.HasPrefix(rev.Data, offchainLookup):
			return nil, notFound(notFoundCause)
		case r.ccip == nil:
			return nil, &fault.Error{Kind: fault.FailedPrecondition, Msg: "ENS name needs an off-chain lookup, which is not enabled", Err: ErrOffchainLookup}
		case round >= r.ccip.cfg.MaxLookups:
			return nil, &fault.Error{Kind: fault.FailedPrecondition, Msg: "ENS name needs too many off-chain lookups", Err: ErrTooManyLookups}
		}
		if data, err = r.ccip.follow(ctx, r.universal, rev.Data); err != nil {
			return nil, err
		}
	}
}

func notFound(cause error) error {
	return &fault.Error{Kind: fault.NotFound, Msg: "ENS record not found", Err: cause}
}

// malformed is the error for an answer that is not the ABI encoding the
// Universal Resolver's functions return: the endpoint or the contract at
// the configured address is not what it should be.
func malformed() error {
	return &fault.Error{Kind: fault.Unavailable, Msg: "the ENS resolver's answer is malformed", Err: errors.Join(ethrpc.ErrMalformed, abi.ErrEncoding)}
}
