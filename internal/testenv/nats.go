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
func NatsURL(t testing.TB) string {
	u := os.Getenv(NatsEnv)
	if u == "" {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s must be set under CI", NatsEnv)
		}
		t.Skipf("%s not set", NatsEnv)
	}
	return u
}
