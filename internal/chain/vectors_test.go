package chain

import (
	"compress/gzip"
	"encoding/hex"
	"encoding/json"
	"io"
	"os"
	"strings"
	"testing"

	"github.com/atriumid/atrium/internal/testvectors"
)

// loadVectors decodes the JSON vector file name (gzip-compressed when it
// ends in .gz) into v.
func loadVectors(t *testing.T, name string, v any) {
	t.Helper()
	f, err := os.Open(testvectors.Path(t, name))
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
func unhex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.TrimPrefix(s, "0x"))
	if err != nil {
		t.Fatalf("bad hex %q in vectors: %v", s, err)
	}
	return b
}
