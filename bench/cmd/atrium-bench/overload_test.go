package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestOverloadCurveAgainstFakeServer: -overload measures two curves, with
// and without shedding, each with a row per offered load, and stops both
// servers gracefully.
func TestOverloadCurveAgainstFakeServer(t *testing.T) {
	t.Setenv(fakeModeEnv, "serve")
	t.Setenv(fakeStatsEnv, filepath.Join(t.TempDir(), "stats.json"))
	var stdout, stderr bytes.Buffer
	args := []string{"-bin", os.Args[0], "-overload", "-step", "100ms", "-n", "50", "-c", "4", "-accounts", "10", "-warmup", "10"}
	if err := run(t.Context(), args, &stdout, &stderr); err != nil {
		t.Fatalf("run(%q) = %v; stderr:\n%s", args, err, &stderr)
	}
	out := stdout.String()
	for _, heading := range []string{"### load shedding on", "### load shedding off (--max-concurrency 0)"} {
		if !strings.Contains(out, heading) {
			t.Errorf("report lacks %q:\n%s", heading, out)
		}
	}
	var rows [][]string
	for _, r := range tableRows(out) {
		if r[0] != "offered" {
			rows = append(rows, r)
		}
	}
	if len(rows) != 2*len(overloadFactors) {
		t.Fatalf("report has %d rows, want %d:\n%s", len(rows), 2*len(overloadFactors), out)
	}
	for _, r := range rows {
		if len(r) != 8 || r[7] != "0" {
			t.Errorf("row %q: want 8 cells and no failures other than shedding", r)
		}
	}
	if stderr.Len() > 0 {
		t.Errorf("stderr: %s", &stderr)
	}
}
