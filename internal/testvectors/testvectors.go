// Package testvectors finds the shared conformance vectors (SIWE, EIP-55,
// ENS, OpenFGA, …) for tests. The vectors live outside the module, in the
// folder "shared/vectors" beside the repository, or wherever
// ATRIUM_VECTORS_DIR points.
//
// When the folder is missing, a test that needs it is skipped on a developer
// machine and fails under CI (CI=true), so a CI run can never pass without
// running the vectors.
package testvectors

import (
	"os"
	"path/filepath"
	"testing"
)

// Path returns the absolute path of name inside the vectors folder, skipping
// (or, under CI, failing) t when the file is not there.
func Path(t testing.TB, name string) string {
	t.Helper()
	dir, ok := Dir()
	if ok {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("conformance vector %s not found (set ATRIUM_VECTORS_DIR)", name)
	}
	t.Skipf("conformance vector %s not found; set ATRIUM_VECTORS_DIR to run it", name)
	return ""
}

// Dir returns the vectors folder: ATRIUM_VECTORS_DIR if set, else
// "../shared/vectors" relative to the module root, found by walking up from
// the working directory to go.mod.
func Dir() (string, bool) {
	if d := os.Getenv("ATRIUM_VECTORS_DIR"); d != "" {
		return d, true
	}
	wd, err := os.Getwd()
	if err != nil {
		return "", false
	}
	for d := wd; ; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			v := filepath.Join(filepath.Dir(d), "shared", "vectors")
			if _, err := os.Stat(v); err == nil {
				return v, true
			}
			return "", false
		}
		if filepath.Dir(d) == d {
			return "", false
		}
	}
}
