package testenv

import (
	"crypto/rand"
	"encoding/hex"
	"testing"
)

// RedisEnv names the environment variable holding the URL of a Redis that
// tests may write keys to.
const RedisEnv = "ATRIUM_TEST_REDIS_URL"

// RedisURL returns the URL of the test Redis and a key prefix of t's own,
// so that tests sharing one Redis never see each other's keys. It skips t
// when RedisEnv is not set, and fails it under CI, where Redis must run.
func RedisURL(t testing.TB) (url, prefix string) {
	url = required(t, RedisEnv)
	b := make([]byte, 8)
	rand.Read(b)
	return url, "atrium-test-" + hex.EncodeToString(b) + ":"
}
