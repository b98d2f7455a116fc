package chain

import "golang.org/x/crypto/sha3"

// Keccak256 returns the Keccak-256 digest of the concatenation of data, as
// Ethereum computes it. It is the original Keccak padding, not NIST SHA3-256:
// Keccak256() is c5d2…a470 where SHA3-256 gives a7ff…434a.
func Keccak256(data ...[]byte) [32]byte {
	h := sha3.NewLegacyKeccak256()
	for _, d := range data {
		h.Write(d) // a hash.Hash never returns an error
	}
	var out [32]byte
	h.Sum(out[:0])
	return out
}
