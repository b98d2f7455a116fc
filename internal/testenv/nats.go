package testenv

import (
	"os"
	"testing"
)

// NatsEnv names the environment variable holding the URL of a NATS server
// with JetStream that tests may create streams on.
const NatsEnv = "ATRIUM_TEST_NATS_URL"

// NatsURL returns the URL of the test NATS server. It skips t when
// NatsEnv is not set, and fails it under CI, where NATS must run.
func NatsURL(t testing.TB) string { return required(t, NatsEnv) }

// required returns the value of the environment variable name, skipping t
// when it is not set, or failing it under CI, where every service the tests
// use must run.
func required(t testing.TB, name string) string {
	v := os.Getenv(name)
	if v == "" {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s must be set under CI", name)
		}
		t.Skipf("%s not set", name)
	}
	return v
}
