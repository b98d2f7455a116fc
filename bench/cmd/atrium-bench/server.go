package main

import (
	"context"
	"os/exec"
	"path/filepath"

	"github.com/atriumid/atrium/bench/childproc"
	"github.com/atriumid/atrium/internal/fault"
)

// startServer runs bin serve on a new SQLite database in dir, listening on
// a free loopback port, with any further flags, and returns once it has
// printed its bootstrap key and answers /readyz.
func startServer(ctx context.Context, bin, dir string, flags ...string) (*childproc.Process, error) {
	addr, err := childproc.FreeLoopbackAddr()
	if err != nil {
		return nil, fault.Wrap("bench.startServer", fault.Unavailable, err)
	}
	db := "sqlite://" + filepath.Join(dir, "atrium.db")
	cmd := exec.Command(bin, append([]string{"serve", "--database", db, "--listen", addr}, flags...)...)
	return childproc.Start(ctx, "atrium serve", cmd, addr, "/readyz", childproc.Options{WantKey: true})
}
