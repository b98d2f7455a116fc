package chain

import (
	"compress/gzip"
	"encoding/hex"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/atriumid/atrium/internal/testvectors"
)

// loadVectors decodes the JSON vector file name (gzip-compressed when it
// ends in .gz) into v.
func loadVectors(t testing.TB, name string, v any) {
	t.Helper()
	decodeVectors(t, testvectors.Path(t, name), v)
}

// seedVectors decodes the vector file name into v for a fuzz target's seeds
// and reports whether it could: a fuzz target still runs on its committed
// corpus when the vectors are not there.
func seedVectors(f *testing.F, name string, v any) bool {
	f.Helper()
	dir, ok := testvectors.Dir()
	if !ok {
		return false
	}
	path := filepath.Join(dir, filepath.FromSlash(name))
	if _, err := os.Stat(path); err != nil {
		return false
	}
	decodeVectors(f, path, v)
	return true
}

func decodeVectors(t testing.TB, path string, v any) {
	t.Helper()
	name := path
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var r io.Reader = f
	if strings.HasSuffix(name, ".gz") {
		zr, err := gzip.NewReader(f)
		if err != nil {
			t.Fatal(err)
		}
		r = zr
	}
	if err := json.NewDecoder(r).Decode(v); err != nil {
		t.Fatalf("decode %s: %v", name, err)
	}
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
