package kind

import (
	_ "embed"
	"slices"
)

//go:embed builtin.yaml
var builtin []byte

// Builtin returns the text of the built-in kinds document, which declares
// the kinds user, org and service. It is YAML, with comments explaining each
// kind, and compiles with any CompileOptions whose relation checker accepts
// OpenFGA schema 1.1.
func Builtin() []byte { return slices.Clone(builtin) }
