package layout

import (
	"encoding/json"
	"go/parser"
	"go/token"
	"io"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

const module = "github.com/atriumid/atrium/"

// pkg is what `go list -json` says of a package.
type pkg struct {
	ImportPath string
	Dir        string
	GoFiles    []string
	Deps       []string
}

func listPackages(t *testing.T) []pkg {
	t.Helper()
	cmd := exec.Command("go", "list", "-json", "../../...")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Skipf("go command not available: %v", err)
	}
	var pkgs []pkg
	dec := json.NewDecoder(out)
	for {
		var p pkg
		if err := dec.Decode(&p); err == io.EOF {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		pkgs = append(pkgs, p)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("go list: %v", err)
	}
	return pkgs
}

// TestPackageDocs fails for a package without a doc comment.
func TestPackageDocs(t *testing.T) {
	for _, p := range listPackages(t) {
		if strings.HasPrefix(p.ImportPath, module+"gen/") || len(p.GoFiles) == 0 {
			continue
		}
		documented := false
		for _, f := range p.GoFiles {
			af, err := parser.ParseFile(token.NewFileSet(), filepath.Join(p.Dir, f), nil, parser.PackageClauseOnly|parser.ParseComments)
			if err != nil {
				t.Fatal(err)
			}
			if af.Doc != nil && strings.TrimSpace(af.Doc.Text()) != "" {
				documented = true
			}
		}
		if !documented {
			t.Errorf("package %s has no doc comment", p.ImportPath)
		}
	}
}

// domain lists the packages that hold rules: they must not depend on
// storage, transports, generated code or the composition root.
var domain = []string{
	"internal/account", "internal/kind", "internal/identifier", "internal/chain", "internal/credential/",
	"internal/relation", "internal/outbox", "internal/fault", "internal/ids", "internal/envelope",
	"internal/freshness", "internal/apikey", "internal/authz", "internal/session", "internal/throttle", "internal/audit",
}

var forbidden = []string{
	module + "internal/sqlstore", module + "internal/api", module + "internal/app", module + "gen/",
	module + "internal/testenv", "net/http", "database/sql", "github.com/jackc/pgx", "modernc.org/sqlite", "connectrpc.com/",
}

// TestImportArrows keeps the arrows pointing inward.
func TestImportArrows(t *testing.T) {
	for _, p := range listPackages(t) {
		rel := strings.TrimPrefix(p.ImportPath, module)
		isDomain := false
		for _, d := range domain {
			if rel == strings.TrimSuffix(d, "/") || (strings.HasSuffix(d, "/") && strings.HasPrefix(rel, d)) {
				isDomain = true
			}
		}
		if !isDomain {
			continue
		}
		for _, dep := range p.Deps {
			for _, f := range forbidden {
				// database/sql/driver is allowed: uuid implements its Scanner.
				if dep == f || (strings.HasPrefix(dep, f+"/") && f != "database/sql") || (strings.HasSuffix(f, "/") && strings.HasPrefix(dep, f)) {
					t.Errorf("%s depends on %s", rel, dep)
				}
			}
		}
	}
}
