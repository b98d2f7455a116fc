// Package layout holds no code: its tests enforce the shape of the
// repository, so that the rules in docs/ARCHITECTURE.md cannot rot. Every
// package has a doc comment, and domain packages never import storage,
// transport or generated code.
package layout
