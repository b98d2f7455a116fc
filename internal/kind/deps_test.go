package kind

import (
	"os/exec"
	"strings"
	"testing"
)

// TestOnlyKindImportsCEL keeps cel-go behind this package: guards are
// compiled and evaluated here, and no other package of the module imports
// cel-go directly.
func TestOnlyKindImportsCEL(t *testing.T) {
	out, err := exec.Command("go", "list", "-f", `{{.ImportPath}} {{join .Imports " "}} {{join .TestImports " "}}`, "../../...").Output()
	if err != nil {
		t.Skipf("go list: %v", err)
	}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		pkg, imports, _ := strings.Cut(line, " ")
		if pkg == "github.com/atriumid/atrium/internal/kind" {
			continue
		}
		for _, imp := range strings.Fields(imports) {
			if strings.HasPrefix(imp, "github.com/google/cel-go") || strings.HasPrefix(imp, "cel.dev/") {
				t.Errorf("%s imports %s; only internal/kind may", pkg, imp)
			}
		}
	}
}
