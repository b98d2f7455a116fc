package chain

import (
	"encoding/hex"
	"strings"
	"testing"

	"github.com/atriumid/atrium/internal/testvectors"
)

// loadVectors decodes the vector file name into v (see testvectors.Decode).
func loadVectors(t testing.TB, name string, v any) {
	t.Helper()
	testvectors.Decode(t, name, v)
}

// unhex decodes "0x"-prefixed hex from a vector file.
func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.TrimPrefix(s, "0x"))
	if err != nil {
		t.Fatalf("bad hex %q in vectors: %v", s, err)
	}
	return b
}
