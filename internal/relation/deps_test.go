package relation

import (
	"go/build"
	"strings"
	"testing"
)

// TestImports keeps the engine pure: the standard library and fault only,
// so that storage and transports depend on it and never the reverse.
func TestImports(t *testing.T) {
	pkg, err := build.ImportDir(".", 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, imp := range pkg.Imports {
		first, _, _ := strings.Cut(imp, "/")
		if strings.Contains(first, ".") && imp != "github.com/atriumid/atrium/internal/fault" {
			t.Errorf("package relation imports %s; only the standard library and internal/fault are allowed", imp)
		}
	}
}
