package siwe

import (
	"context"
	"errors"
	"time"

	"github.com/atriumid/atrium/internal/chain"
	"github.com/atriumid/atrium/internal/fault"
)

// WalletVerifier checks a signature against the account at an address on
// one chain, including smart-contract wallets (ERC-1271, ERC-6492).
// *wallet.Verifier implements it. Verify returns how control was proven, or
// fault.Unauthenticated when the signature proves none, fault.Unavailable
// when the chain cannot be asked, fault.FailedPrecondition when the chain is
// not supported, and fault.Invalid for a malformed signature.
type WalletVerifier interface {
	Verify(ctx context.Context, chainID uint64, addr chain.Address, digest [32]byte, sig []byte) (chain.Control, error)
}

// VerifyWallet is Verify extended to smart-contract wallets: it runs every
// check of Verify and, when only the EOA signature check failed
// (ErrNotEOASignature), asks w whether the account at m.Address on
// m.ChainID accepts sig for the EIP-191 digest of m. It returns how
// control was proven, which decides the wallet's identity key
// (chain.AccountID.Key): chain.KeyControl for an EOA signature,
// chain.ContractControl for a contract wallet's.
//
// Errors: those of Verify; then, from w, fault.Unauthenticated (wrapping
// ErrNotEOASignature and w's cause) when the signature proves no control,
// fault.Unavailable when the chain cannot be asked, so that sign-in fails
// closed, and fault.FailedPrecondition when the chain has no endpoint. A nil
// w accepts EOA signatures only.
func VerifyWallet(ctx context.Context, m *Message, sig []byte, p Policy, now time.Time, w WalletVerifier) (chain.Control, error) {
	const op = "siwe.VerifyWallet"
	err := Verify(m, sig, p, now)
	if err == nil {
		return chain.KeyControl, nil
	}
	if w == nil || !errors.Is(err, ErrNotEOASignature) {
		return 0, err
	}
	c, werr := w.Verify(ctx, m.ChainID, m.Address, chain.PersonalMessageHash([]byte(m.String())), sig)
	switch {
	case werr == nil:
		return c, nil
	case fault.Is(werr, fault.Unauthenticated) || fault.Is(werr, fault.Invalid):
		return 0, &fault.Error{Op: op, Kind: fault.Unauthenticated, Msg: "signature is not valid", Err: errors.Join(ErrNotEOASignature, werr)}
	}
	return 0, fault.Wrap(op, fault.Unavailable, werr)
}
