package testvectors

import (
	"compress/gzip"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Decode decodes the JSON vector file name (gzip-compressed when its name
// ends in ".gz") into v, skipping t (failing under CI) as Path does when the
// file is not there.
func Decode(t testing.TB, name string, v any) {
	t.Helper()
	decode(t, Path(t, name), v)
}

// Seed decodes the vector file name into v like Decode, but reports false
// instead of skipping when the file is not there. Fuzz targets use it for
// seeds, so that they still run on their committed corpus without the
// vectors.
func Seed(f *testing.F, name string, v any) bool {
	f.Helper()
	dir, ok := Dir()
	if !ok {
		return false
	}
	p := filepath.Join(dir, filepath.FromSlash(name))
	if _, err := os.Stat(p); err != nil {
		return false
	}
	decode(f, p, v)
	return true
}

func decode(t testing.TB, path string, v any) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var r io.Reader = f
	if strings.HasSuffix(path, ".gz") {
		zr, err := gzip.NewReader(f)
		if err != nil {
			t.Fatalf("vector %s: %v", path, err)
		}
		r = zr
	}
	if err := json.NewDecoder(r).Decode(v); err != nil {
		t.Fatalf("vector %s: %v", path, err)
	}
}
