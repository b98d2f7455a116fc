package testenv

import (
	"context"
	"database/sql"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// ReplicaEnv names the environment variable that asks for tests against
// a PostgreSQL streaming replica outside CI. Under CI they always run.
const ReplicaEnv = "ATRIUM_TEST_PG_REPLICA"

// StartReplica starts a PostgreSQL streaming replica of the test server
// (the one PostgresEnv names) on another loopback port, and returns the URL
// of primaryURL (a PostgresURL schema) rewritten to read from it. The
// replica is a second cluster made by pg_basebackup -R in a temporary
// folder, run as the postgres user, and stopped and removed when t ends.
//
// It needs the PostgreSQL server binaries, to run as root or postgres, and
// a pg_hba.conf entry that lets loopback replication connections in (.ci/run
// adds one). It skips t when ReplicaEnv is not set or something is
// missing, and fails it instead under CI.
func StartReplica(t testing.TB, primaryURL string) string {
	t.Helper()
	if os.Getenv("CI") != "true" && os.Getenv(ReplicaEnv) == "" {
		t.Skipf("%s not set", ReplicaEnv)
	}
	fail := t.Skipf
	if os.Getenv("CI") == "true" {
		fail = t.Fatalf
	}
	bins, _ := filepath.Glob("/usr/lib/postgresql/*/bin/pg_basebackup")
	if len(bins) == 0 {
		fail("no pg_basebackup under /usr/lib/postgresql")
		return ""
	}
	bin := filepath.Dir(bins[len(bins)-1])
	me, _ := user.Current()
	if me == nil || (me.Username != "root" && me.Username != "postgres") {
		fail("a replica is started as root or postgres, not %v", me)
		return ""
	}
	pu, err := url.Parse(primaryURL)
	if err != nil {
		t.Fatalf("primary URL: %v", err)
	}
	dir, err := os.MkdirTemp("", "atrium-replica-")
	if err != nil {
		t.Fatal(err)
	}
	os.Chmod(dir, 0o755)
	data := filepath.Join(dir, "data")
	port := freePort(t)
	run := func(args ...string) error {
		cmd := strings.Join(args, " ")
		var c *exec.Cmd
		if me.Username == "root" {
			c = exec.Command("su", "postgres", "-c", cmd)
		} else {
			c = exec.Command("sh", "-c", cmd)
		}
		out, err := c.CombinedOutput()
		if err != nil {
			return fmt.Errorf("%s: %v: %s", cmd, err, out)
		}
		return nil
	}
	if me.Username == "root" {
		if err := exec.Command("chown", "postgres:", dir).Run(); err != nil {
			t.Fatalf("chown: %v", err)
		}
	}
	t.Cleanup(func() {
		run(bin+"/pg_ctl", "-D", data, "-m", "immediate", "-w", "stop")
		os.RemoveAll(dir)
	})
	if err := run(bin+"/pg_basebackup", "-h", pu.Hostname(), "-p", portOf(pu), "-U", "postgres", "-D", data, "-R", "-X", "stream", "-c", "fast"); err != nil {
		fail("pg_basebackup (does pg_hba.conf let loopback replication in?): %v", err)
		return ""
	}
	// A Debian cluster keeps its configuration outside the data folder:
	// the copy gets a minimal one of its own.
	conf := fmt.Sprintf("port = %d\nlisten_addresses = '127.0.0.1'\nunix_socket_directories = '%s'\nhot_standby = on\nfsync = off\n", port, dir)
	hba := "local all all trust\nhost all all 127.0.0.1/32 trust\n"
	for name, text := range map[string]string{"postgresql.conf": conf, "pg_hba.conf": hba, "pg_ident.conf": ""} {
		path := filepath.Join(data, name)
		if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		if me.Username == "root" {
			exec.Command("chown", "postgres:", path).Run()
		}
	}
	if err := run(bin+"/pg_ctl", "-D", data, "-l", filepath.Join(dir, "log"), "-w", "-t", "60", "start"); err != nil {
		log, _ := os.ReadFile(filepath.Join(dir, "log"))
		t.Fatalf("start the replica: %v\n%s", err, log)
	}
	ru := *pu
	ru.Host = net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	db, err := sql.Open("pgx", ru.String())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for {
		var standby bool
		if err := db.QueryRowContext(ctx, `SELECT pg_is_in_recovery()`).Scan(&standby); err == nil && standby {
			break
		} else if ctx.Err() != nil {
			t.Fatalf("the replica did not come up: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	return ru.String()
}

// portOf returns u's port, PostgreSQL's default when none is given.
func portOf(u *url.URL) string {
	if p := u.Port(); p != "" {
		return p
	}
	return "5432"
}

// freePort returns a loopback TCP port that was free a moment ago.
func freePort(t testing.TB) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}
