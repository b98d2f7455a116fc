// Package wallet proves control of an Ethereum address by a signature over a
// 32-byte digest, whatever kind of account holds the address: an EOA or an
// EIP-7702 delegated EOA (ECDSA key), a deployed smart-contract wallet
// (ERC-1271), or a smart-contract wallet that is not deployed yet (ERC-6492).
//
// The checks run in the order ERC-6492 requires:
//
//  1. A signature ending with the ERC-6492 magic suffix is unwrapped and
//     checked in one "deployless" eth_call: the creation code of a small
//     validator contract (contracts/Validator.sol, compiled into
//     contracts/Validator.bin) runs the wallet's factory call when the
//     wallet has no code, then asks the wallet's isValidSignature. Nothing
//     is deployed: eth_call discards the state.
//  2. Otherwise, a low-s ECDSA signature that recovers to the address proves
//     key control, with no network call. This comes before the code check
//     because an EIP-7702 account has code and still holds its key.
//  3. Otherwise, if the address has code, its ERC-1271
//     isValidSignature(bytes32,bytes) must return exactly the 32-byte magic
//     value 0x1626ba7e.
//  4. Otherwise the signature is not valid.
//
// Contract checks read one chain's state through a Chain, so a contract
// wallet is proven on that chain only (chain.ContractControl). When the
// chain cannot be asked, verification fails closed with fault.Unavailable.
package wallet

import (
	"bytes"
	"context"
	_ "embed"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"

	"github.com/atriumid/atrium/internal/chain"
	"github.com/atriumid/atrium/internal/chain/abi"
	"github.com/atriumid/atrium/internal/chain/ethrpc"
	"github.com/atriumid/atrium/internal/fault"
)

// Chain is what Verifier needs of a JSON-RPC client: *ethrpc.Client
// implements it. Its methods fail with fault.Unavailable when the chain
// cannot be asked, fault.FailedPrecondition when chainID has no endpoint,
// and Call with fault.Invalid wrapping *ethrpc.RevertError when the call
// reverted.
type Chain interface {
	Code(ctx context.Context, chainID uint64, addr chain.Address) ([]byte, error)
	Call(ctx context.Context, chainID uint64, to *chain.Address, data []byte) ([]byte, error)
}

// Errors that Verify wraps in a fault.Unauthenticated error.
var (
	// ErrBadSignature: the signature proves no control of the address: it
	// recovers to another key, the address has no code, or its code
	// rejects the signature.
	ErrBadSignature = errors.New("signature does not prove control of the address")
	// ErrNotDeployed: an ERC-6492 signature's factory call left no code at
	// the address, so its wallet could not be asked.
	ErrNotDeployed = errors.New("ERC-6492 factory call did not deploy the wallet")
)

// ErrUnexpectedOutput is the cause, inside a fault.Unavailable error, of an
// answer of the validator call that is not one of its three status bytes:
// the endpoint does not run contract-creation calls as geth does.
var ErrUnexpectedOutput = errors.New("unexpected output of the signature validator call")

// erc1271Magic is the selector of isValidSignature(bytes32,bytes) and the
// value a wallet returns when it accepts the signature.
var erc1271Magic = [4]byte{0x16, 0x26, 0xba, 0x7e}

// validatorHex is the creation code of contracts/Validator.sol, compiled by
// e2e/evm/contracts/compile.js.
//
//go:embed contracts/Validator.bin
var validatorHex string

// validatorCode is validatorHex decoded, checked by a test.
var validatorCode, _ = hex.DecodeString(strings.TrimSpace(validatorHex))

// The one-byte outputs of the validator.
const (
	validatorRejected    = 0
	validatorAccepted    = 1
	validatorNotDeployed = 2
)

// Verifier checks wallet signatures. Its zero value is not usable; build it
// with NewVerifier. It is safe for concurrent use.
type Verifier struct {
	chain Chain
}

// NewVerifier returns a Verifier that asks c about contract wallets. A nil
// c verifies key signatures only, and answers every contract check with
// fault.FailedPrecondition.
func NewVerifier(c Chain) *Verifier { return &Verifier{chain: c} }

// Verify reports how sig proves control of addr on chain chainID for
// digest, the 32-byte hash that was signed (for EIP-191 messages,
// chain.PersonalMessageHash): chain.KeyControl when it is addr's ECDSA
// signature, chain.ContractControl when the code at addr on chainID accepts
// it (ERC-1271, or ERC-6492 for a wallet not deployed yet). The key path
// never touches the network.
//
// Errors: fault.Invalid for a signature over chain.MaxWrappedSignatureLen
// bytes or a malformed ERC-6492 wrapper; fault.Unauthenticated wrapping
// ErrBadSignature or ErrNotDeployed when the signature proves nothing;
// fault.Unavailable when the chain cannot be asked (endpoint down, slow,
// misbehaving, circuit open), so that the caller fails closed;
// fault.FailedPrecondition when no endpoint serves chainID; fault.Canceled
// or fault.DeadlineExceeded when ctx ends first.
func (v *Verifier) Verify(ctx context.Context, chainID uint64, addr chain.Address, digest [32]byte, sig []byte) (chain.Control, error) {
	const op = "wallet.Verify"
	if len(sig) > chain.MaxWrappedSignatureLen {
		return 0, fault.E(op, fault.Invalid, "signature longer than %d bytes", chain.MaxWrappedSignatureLen)
	}
	if chain.IsERC6492(sig) {
		return v.counterfactual(ctx, chainID, addr, digest, sig)
	}
	if signer, err := chain.Recover(digest, sig); err == nil && signer == addr {
		return chain.KeyControl, nil
	}
	return v.deployed(ctx, chainID, addr, digest, sig)
}

// deployed asks the code at addr, if any, about sig (ERC-1271).
func (v *Verifier) deployed(ctx context.Context, chainID uint64, addr chain.Address, digest [32]byte, sig []byte) (chain.Control, error) {
	const op = "wallet.Verify"
	if v == nil || v.chain == nil {
		return 0, noChain(op, chainID)
	}
	code, err := v.chain.Code(ctx, chainID, addr)
	if err != nil {
		return 0, fault.Wrap(op, fault.Unavailable, err)
	}
	if len(code) == 0 {
		return 0, rejected(op, ErrBadSignature)
	}
	out, err := v.chain.Call(ctx, chainID, &addr, isValidSignatureCall(digest, sig))
	if _, reverted := errors.AsType[*ethrpc.RevertError](err); reverted {
		return 0, rejected(op, ErrBadSignature)
	}
	if err != nil {
		return 0, fault.Wrap(op, fault.Unavailable, err)
	}
	if !isMagicWord(out) {
		return 0, rejected(op, ErrBadSignature)
	}
	return chain.ContractControl, nil
}

// counterfactual checks an ERC-6492 signature with the deployless validator.
func (v *Verifier) counterfactual(ctx context.Context, chainID uint64, addr chain.Address, digest [32]byte, sig []byte) (chain.Control, error) {
	const op = "wallet.Verify"
	factory, factoryCalldata, inner, err := chain.UnwrapERC6492(sig)
	if err != nil {
		return 0, fault.Wrap(op, fault.Invalid, err)
	}
	if v == nil || v.chain == nil {
		return 0, noChain(op, chainID)
	}
	data := append(bytes.Clone(validatorCode), abi.Encode(addr, digest, factory, factoryCalldata, inner)...)
	out, err := v.chain.Call(ctx, chainID, nil, data)
	if _, reverted := errors.AsType[*ethrpc.RevertError](err); reverted {
		// The validator itself never reverts; running out of gas in the
		// factory or the wallet does.
		return 0, rejected(op, ErrBadSignature)
	}
	if err != nil {
		return 0, fault.Wrap(op, fault.Unavailable, err)
	}
	status := -1
	if len(out) == 1 {
		status = int(out[0])
	}
	switch status {
	case validatorAccepted:
		return chain.ContractControl, nil
	case validatorRejected:
		return 0, rejected(op, ErrBadSignature)
	case validatorNotDeployed:
		return 0, rejected(op, ErrNotDeployed)
	}
	return 0, &fault.Error{Op: op, Kind: fault.Unavailable, Msg: fmt.Sprintf("chain %d cannot check smart-contract wallet signatures", chainID), Err: ErrUnexpectedOutput}
}

func rejected(op string, cause error) error {
	return &fault.Error{Op: op, Kind: fault.Unauthenticated, Msg: "signature is not valid", Err: cause}
}

func noChain(op string, chainID uint64) error {
	return &fault.Error{Op: op, Kind: fault.FailedPrecondition, Msg: fmt.Sprintf("smart-contract wallets on chain %d are not supported", chainID), Err: ethrpc.ErrNoEndpoint}
}

// isValidSignatureCall is the calldata of isValidSignature(digest, sig).
func isValidSignatureCall(digest [32]byte, sig []byte) []byte {
	return abi.Call(erc1271Magic, digest, sig)
}

// isMagicWord reports whether out is exactly the ABI encoding of the bytes4
// magic value: 0x1626ba7e and 28 zero bytes. Anything else, including a
// longer answer that starts with the magic value, is a refusal.
func isMagicWord(out []byte) bool {
	var want [32]byte
	copy(want[:], erc1271Magic[:])
	return bytes.Equal(out, want[:])
}
