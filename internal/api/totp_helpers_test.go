package api_test

import (
	"encoding/base32"
	"testing"
	"time"

	"github.com/atriumid/atrium/internal/credential/totp"
)

func decodeBase32(t *testing.T, s string) []byte {
	t.Helper()
	b, err := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func currentCode(secret []byte) string { return totp.Code(secret, totp.Step(time.Now())) }
