package api_test

import (
	"encoding/hex"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/decred/dcrd/dcrec/secp256k1/v4"
	"github.com/decred/dcrd/dcrec/secp256k1/v4/ecdsa"

	"github.com/atriumid/atrium/internal/chain"
	"github.com/atriumid/atrium/internal/credential/siwe"
)

// devWallet is a test-only signer whose private key is Keccak-256 of a
// public seed text: anyone can rebuild it, so it must never hold funds or
// sign in anywhere real.
type devWallet struct {
	key  *secp256k1.PrivateKey
	addr chain.Address
}

// newDevWallet returns the dev wallet of seed; the walkthrough in README.md
// uses the seed "atrium dev wallet".
func newDevWallet(seed string) devWallet {
	k := chain.Keccak256([]byte(seed))
	key := secp256k1.PrivKeyFromBytes(k[:])
	pub := key.PubKey().SerializeUncompressed()
	h := chain.Keccak256(pub[1:])
	var a chain.Address
	copy(a[:], h[12:])
	return devWallet{key: key, addr: a}
}

// sign returns the 0x-prefixed EIP-191 personal_sign signature of text,
// r ‖ s ‖ v with v in {27, 28}, as wallets return it.
func (w devWallet) sign(text string) string {
	h := chain.PersonalMessageHash([]byte(text))
	c := ecdsa.SignCompact(w.key, h[:], false) // v ‖ r ‖ s
	return "0x" + hex.EncodeToString(append(c[1:], c[0]))
}

// devWalletAddress is the address of newDevWallet("atrium dev wallet").
const devWalletAddress = "0x0b486661502766E8096b830D3BB816aCc2A5b455"

// testOrigin is the public URL of the servers of the wallet tests.
const testOrigin = "https://id.atrium.test"

// message returns a sign-in message by w for testOrigin on chain 1 with
// nonce, issued now; edit changes it before it is written out.
func (w devWallet) message(nonce string, edit ...func(*siwe.Message)) string {
	m := &siwe.Message{
		Domain: "id.atrium.test", Address: w.addr, Statement: "Sign in to Atrium.",
		URI: testOrigin + "/login", Version: siwe.Version, ChainID: 1,
		Nonce: nonce, IssuedAt: siwe.NewTimestamp(time.Now()),
	}
	for _, f := range edit {
		f(m)
	}
	return m.String()
}

// TestDevSign is the signer of the wallet walkthrough in README.md: with
// ATRIUM_DEV_SIGN set to a message, it prints the dev wallet's address and
// its signature of the message. Without it, it only checks that the dev
// wallet still has its documented address.
func TestDevSign(t *testing.T) {
	w := newDevWallet("atrium dev wallet")
	if got := w.addr.String(); got != devWalletAddress {
		t.Fatalf("dev wallet address = %s, want %s", got, devWalletAddress)
	}
	msg := os.Getenv("ATRIUM_DEV_SIGN")
	if msg == "" {
		return
	}
	fmt.Printf("address:   %s\nsignature: %s\n", w.addr, w.sign(msg))
}
