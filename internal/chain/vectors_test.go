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

// loadVectorList decodes the "vectors" list of the vector file name and
// checks that it holds want entries, so that a truncated file cannot pass.
func loadVectorList[T any](t testing.TB, name string, want int) []T {
	t.Helper()
	var file struct {
		Vectors []T `json:"vectors"`
	}
	loadVectors(t, name, &file)
	if len(file.Vectors) != want {
		t.Fatalf("read %d vectors from %s, want %d", len(file.Vectors), name, want)
	}
	return file.Vectors
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
