package siwe

import (
	"context"
	"errors"
	"testing"

	"github.com/atriumid/atrium/internal/chain"
	"github.com/atriumid/atrium/internal/fault"
)

// fakeWallet answers Verify with a fixed result and records what it was
// asked.
type fakeWallet struct {
	control chain.Control
	err     error

	calls   int
	chainID uint64
	addr    chain.Address
	digest  [32]byte
}

func (f *fakeWallet) Verify(_ context.Context, chainID uint64, addr chain.Address, digest [32]byte, _ []byte) (chain.Control, error) {
	f.calls++
	f.chainID, f.addr, f.digest = chainID, addr, digest
	return f.control, f.err
}

func TestVerifyWallet(t *testing.T) {
	now := mustTime(t, "2026-11-26T18:00:00Z")
	m, p := testMessage(t, now)
	eoaSig := sign(testKey, m.String())
	contractSig := []byte{1, 2, 3}
	tests := []struct {
		name      string
		sig       []byte
		policy    func(*Policy)
		wallet    *fakeWallet
		want      chain.Control
		kind      fault.Kind
		askWallet bool
	}{
		{"EOA", eoaSig, nil, &fakeWallet{err: errors.New("must not be asked")}, chain.KeyControl, 0, false},
		{"contract accepts", contractSig, nil, &fakeWallet{control: chain.ContractControl}, chain.ContractControl, 0, true},
		{"contract refuses", contractSig, nil, &fakeWallet{err: fault.E("wallet.Verify", fault.Unauthenticated, "no")}, 0, fault.Unauthenticated, true},
		{"malformed wrapper", contractSig, nil, &fakeWallet{err: fault.E("wallet.Verify", fault.Invalid, "bad")}, 0, fault.Unauthenticated, true},
		{"chain down", contractSig, nil, &fakeWallet{err: fault.E("wallet.Verify", fault.Unavailable, "down")}, 0, fault.Unavailable, true},
		{"chain not supported", contractSig, nil, &fakeWallet{err: fault.E("wallet.Verify", fault.FailedPrecondition, "no endpoint")}, 0, fault.FailedPrecondition, true},
		{"plain error fails closed", contractSig, nil, &fakeWallet{err: errors.New("boom")}, 0, fault.Unavailable, true},
		{"other check fails first", contractSig, func(p *Policy) { p.Nonce = "another-nonce" }, &fakeWallet{control: chain.ContractControl}, 0, fault.Unauthenticated, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := p
			if tt.policy != nil {
				tt.policy(&p)
			}
			got, err := VerifyWallet(context.Background(), m, tt.sig, p, now, tt.wallet)
			if tt.want != 0 {
				if err != nil || got != tt.want {
					t.Fatalf("VerifyWallet() = %v, %v, want %v", got, err, tt.want)
				}
			} else if !fault.Is(err, tt.kind) {
				t.Fatalf("VerifyWallet() = %v, %v, want kind %v", got, err, tt.kind)
			}
			if asked := tt.wallet.calls > 0; asked != tt.askWallet {
				t.Fatalf("wallet asked = %v, want %v", asked, tt.askWallet)
			}
			if asked := tt.wallet.calls > 0; asked {
				want := chain.PersonalMessageHash([]byte(m.String()))
				if tt.wallet.chainID != m.ChainID || tt.wallet.addr != m.Address || tt.wallet.digest != want {
					t.Errorf("wallet asked about chain %d, %v, %x, want %d, %v, %x", tt.wallet.chainID, tt.wallet.addr, tt.wallet.digest, m.ChainID, m.Address, want)
				}
			}
		})
	}
}

func TestVerifyWalletWithoutVerifierIsEOAOnly(t *testing.T) {
	now := mustTime(t, "2026-11-26T18:00:00Z")
	m, p := testMessage(t, now)
	_, err := VerifyWallet(context.Background(), m, []byte{1, 2, 3}, p, now, nil)
	if !fault.Is(err, fault.Unauthenticated) || !errors.Is(err, ErrNotEOASignature) {
		t.Errorf("VerifyWallet(nil verifier) = %v, want Unauthenticated wrapping ErrNotEOASignature", err)
	}
}
