package credential_test

import (
	"testing"

	"github.com/atriumid/atrium/internal/credential"
	"github.com/atriumid/atrium/internal/fault"
)

func TestNormalizeWallet(t *testing.T) {
	const addr = "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"
	tests := []struct {
		in, want string
		chain    uint64
	}{
		{"eip155:0:" + addr, "eip155:0:" + addr, 0},
		{"eip155:0:0x5aaeb6053f3e94c9b9a09f33669435e7ef1beaed", "eip155:0:" + addr, 0},
		{"eip155:1:" + addr, "eip155:1:" + addr, 1},
		{"eip155:8453:0x5AAEB6053F3E94C9B9A09F33669435E7EF1BEAED", "eip155:8453:" + addr, 8453},
	}
	for _, tt := range tests {
		got, err := credential.NormalizeWallet(tt.in)
		if err != nil || got != tt.want {
			t.Errorf("NormalizeWallet(%q) = %q, %v, want %q", tt.in, got, err, tt.want)
			continue
		}
		id, a, err := credential.WalletChain(got)
		if err != nil || id != tt.chain || a.String() != addr {
			t.Errorf("WalletChain(%q) = %d, %s, %v, want %d, %s", got, id, a, err, tt.chain, addr)
		}
	}
	for _, in := range []string{
		"", "eip155:0:", "eip155:00:" + addr, "eip155:01:" + addr, "eip155:1:0x5AAeb6053F3E94C9b9A09f33669435E7Ef1BeAed",
		"eip155:0:0x5AAeb6053F3E94C9b9A09f33669435E7Ef1BeAed", "cosmos:1:" + addr, "eip155:-1:" + addr, "eip155:0:" + addr + "00",
	} {
		if got, err := credential.NormalizeWallet(in); !fault.Is(err, fault.Invalid) {
			t.Errorf("NormalizeWallet(%q) = %q, %v, want an Invalid error", in, got, err)
		}
	}
}
