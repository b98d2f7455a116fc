package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/atriumid/atrium/internal/testenv"
)

// syncBuffer is a bytes.Buffer safe for one writer and concurrent readers.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

var listening = regexp.MustCompile(`msg=listening addr=(\S+)`)

// startServe runs `atrium serve` in-process on a loopback port and returns
// its base URL, its bootstrap key and a function that stops it (as SIGTERM
// would) and returns run's error.
func startServe(t *testing.T, dbURL string) (string, string, func() error) {
	t.Helper()
	base, stderr, stop := startReplica(t, dbURL)
	return base, testenv.BootstrapKey(t, stderr.String()), stop
}

// startReplica runs `atrium serve` like startServe, on a database that may
// already be in use by another replica, and returns its stderr instead of
// a bootstrap key.
func startReplica(t *testing.T, dbURL string) (string, *syncBuffer, func() error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	stderr := &syncBuffer{}
	done := make(chan error, 1)
	getenv := func(k string) string {
		if k == "ATRIUM_ENCRYPTION_KEYS" {
			return "t1:" + strings.Repeat("B", 42) + "A="
		}
		return ""
	}
	go func() {
		done <- run(ctx, []string{"serve", "--database", dbURL, "--listen", "127.0.0.1:0"}, getenv, nil, io.Discard, stderr)
	}()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if m := listening.FindStringSubmatch(stderr.String()); m != nil {
			stop := func() error {
				cancel()
				select {
				case err := <-done:
					return err
				case <-time.After(30 * time.Second):
					t.Fatal("serve did not stop")
					return nil
				}
			}
			return "http://" + m[1], stderr, stop
		}
		select {
		case err := <-done:
			t.Fatalf("serve exited: %v\n%s", err, stderr.String())
		case <-time.After(20 * time.Millisecond):
		}
	}
	cancel()
	t.Fatalf("serve did not start:\n%s", stderr.String())
	return "", nil, nil
}

// atrium runs one client command and returns its stdout.
func atrium(t *testing.T, args ...string) (string, error) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	err := run(context.Background(), args, func(string) string { return "" }, nil, &stdout, &stderr)
	return stdout.String(), err
}

// TestServeAndClient runs the server and drives it with the command-line
// client, on every engine.
func TestServeAndClient(t *testing.T) {
	for _, e := range testenv.Engines() {
		t.Run(e.Name, func(t *testing.T) {
			dbURL := e.URL(t)
			base, key, stop := startServe(t, dbURL)
			out, err := atrium(t, "accounts", "create", "--server", base, "--key", key, "--kind", "org",
				"--fragment", `profile={"name":"Acme"}`, "--identifier", "username=acme")
			if err != nil {
				t.Fatalf("accounts create: %v", err)
			}
			var created map[string]any
			if err := json.Unmarshal([]byte(out), &created); err != nil || created["kind"] != "org" {
				t.Fatalf("accounts create printed %q", out)
			}
			id := created["id"].(string)
			out, err = atrium(t, "accounts", "get", id, "--server", base, "--key", key)
			if err != nil || !strings.Contains(out, `"Acme"`) {
				t.Errorf("accounts get = %q, %v", out, err)
			}
			out, err = atrium(t, "accounts", "list", "--server", base, "--key", key, "--kind", "org")
			if err != nil || !strings.Contains(out, id) {
				t.Errorf("accounts list = %q, %v", out, err)
			}
			_, err = atrium(t, "accounts", "create", "--server", base, "--key", key, "--kind", "org", "--identifier", "username=acme")
			if err == nil || !strings.Contains(err.Error(), "already_exists") || !strings.Contains(err.Error(), "identifiers[0]") {
				t.Errorf("duplicate create error = %v, want already_exists naming identifiers[0]", err)
			}
			out, err = atrium(t, "accounts", "create", "--server", base, "--key", key, "--kind", "user", "--identifier", "username=legacy")
			var user map[string]any
			if err != nil || json.Unmarshal([]byte(out), &user) != nil {
				t.Fatalf("accounts create user = %q, %v", out, err)
			}
			const bcryptHash = "$2a$04$abcdefghijklmnopqrstuuBCqQhD2Q5SMbQ7VSgzOGZfs0LWCL9ES" // not checked until a login
			if _, err := atrium(t, "accounts", "password-hash", user["id"].(string), bcryptHash, "--server", base, "--key", key); err != nil {
				t.Errorf("accounts password-hash = %v", err)
			}
			if _, err := atrium(t, "accounts", "password-hash", user["id"].(string), "plain", "--server", base, "--key", key); err == nil || !strings.Contains(err.Error(), "invalid_argument") {
				t.Errorf("accounts password-hash(plain) = %v, want invalid_argument", err)
			}
			out, err = atrium(t, "check", "user:nobody", "member", "org:"+id, "--server", base, "--key", key)
			if err != nil || !strings.HasPrefix(out, "denied") {
				t.Errorf("check = %q, %v; want denied", out, err)
			}
			if _, err := atrium(t, "accounts", "get", id, "--server", base, "--key", "atr_bad"); err == nil || !strings.Contains(err.Error(), "unauthenticated") {
				t.Errorf("get with a bad key = %v, want unauthenticated", err)
			}
			if err := stop(); err != nil {
				t.Fatalf("serve after SIGTERM: %v", err)
			}

			// A second start on the same database prints no new key, and an
			// admin key made by the CLI works.
			newKey, err := atrium(t, "admin-key", "create", "--database", dbURL)
			if err != nil || !strings.HasPrefix(newKey, "atr_") {
				t.Fatalf("admin-key create = %q, %v", newKey, err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			stderr := &syncBuffer{}
			done := make(chan error, 1)
			getenv := func(k string) string {
				return map[string]string{"ATRIUM_ENCRYPTION_KEYS": "t1:" + strings.Repeat("B", 42) + "A=", "ATRIUM_DATABASE_URL": dbURL, "ATRIUM_LISTEN": "127.0.0.1:0"}[k]
			}
			go func() { done <- run(ctx, []string{"serve"}, getenv, nil, io.Discard, stderr) }()
			for !listening.MatchString(stderr.String()) {
				time.Sleep(20 * time.Millisecond)
			}
			base = "http://" + listening.FindStringSubmatch(stderr.String())[1]
			if strings.Contains(stderr.String(), "bootstrap admin API key") {
				t.Errorf("second start printed a bootstrap key")
			}
			if out, err := atrium(t, "accounts", "get", id, "--server", base, "--key", strings.TrimSpace(newKey)); err != nil || !strings.Contains(out, id) {
				t.Errorf("get with the CLI-made key = %q, %v", out, err)
			}
			cancel()
			if err := <-done; err != nil {
				t.Errorf("second serve: %v", err)
			}
		})
	}
}

func TestCommands(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.yaml")
	bad := filepath.Join(dir, "bad.yaml")
	os.WriteFile(good, []byte("kinds:\n  team:\n    id_prefix: team\n    lifecycle: {initial: active}\n"), 0o600)
	os.WriteFile(bad, []byte("kinds:\n  Team:\n    id_prefix: TEAM\n    identifiers: [fax]\n    lifecycle: {}\n"), 0o600)
	if out, err := atrium(t, "kinds", "validate", good); err != nil || !strings.Contains(out, "valid") {
		t.Errorf("kinds validate good = %q, %v", out, err)
	}
	var stderr bytes.Buffer
	err := run(context.Background(), []string{"kinds", "validate", bad}, func(string) string { return "" }, nil, io.Discard, &stderr)
	if err == nil || !strings.Contains(stderr.String(), "kinds.Team") {
		t.Errorf("kinds validate bad = %v, stderr %q; want every problem listed", err, stderr.String())
	}
	db := "sqlite://" + filepath.Join(dir, "m.db")
	if out, err := atrium(t, "migrate", "up", "--database", db); err != nil || !strings.Contains(out, "applied") {
		t.Errorf("migrate up = %q, %v", out, err)
	}
	for _, args := range [][]string{{}, {"bogus"}, {"migrate"}, {"admin-key"}, {"kinds", "validate"}, {"serve", "--listen", "nope"}, {"serve", "--database", "mysql://x"}} {
		if _, err := atrium(t, args...); err == nil {
			t.Errorf("atrium %v succeeded, want an error", args)
		}
	}
}

func TestRedactURL(t *testing.T) {
	for in, want := range map[string]string{
		"sqlite://./atrium.db":                           "sqlite://./atrium.db",
		"postgres://u:s3cret@h:5432/db":                  "postgres://u:xxxxx@h:5432/db",
		"postgres://u@h/db?password=s3cret&sslmode=full": "postgres://u@h/db?…",
		"postgres://u@h/%zz":                             "(unparsable database URL)",
	} {
		if got := redactURL(in); got != want || strings.Contains(got, "s3cret") {
			t.Errorf("redactURL(%q) = %q, want %q", in, got, want)
		}
	}
}
