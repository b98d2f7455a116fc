package main

import (
	"context"
	"os/exec"
	"path/filepath"

	"github.com/atriumid/atrium/bench/childproc"
	"github.com/atriumid/atrium/internal/fault"
)

// startServer runs bin serve with the flags extra on a new SQLite database
// in dir, listening on a free loopback port, and returns once it has
// printed its bootstrap key and answers /readyz.
func startServer(ctx context.Context, bin, dir string, extra []string) (*childproc.Process, error) {
	addr, err := childproc.FreeLoopbackAddr()
	if err != nil {
		return nil, fault.Wrap("bench.startServer", fault.Unavailable, err)
	}
	db := "sqlite://" + filepath.Join(dir, "atrium.db")
	cmd := exec.Command(bin, append([]string{"serve", "--database", db, "--listen", addr}, extra...)...)
	return childproc.Start(ctx, "atrium serve", cmd, addr, "/readyz", childproc.Options{WantKey: true})
}
