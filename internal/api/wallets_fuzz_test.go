package api

import (
	"net/http/httptest"
	"strings"
	"testing"

	atriumv1 "github.com/atriumid/atrium/gen/atrium/v1"
	"github.com/atriumid/atrium/internal/chain"
	"github.com/atriumid/atrium/internal/credential"
	"github.com/atriumid/atrium/internal/fault"
)

// FuzzSiweLoginDecode decodes arbitrary bodies of POST /v1/auth/siwe/login
// as the route does, then parses the message and signature: every failure
// is a typed error, a parsed message writes back as the text it came from,
// and no signature over the limit gets through.
func FuzzSiweLoginDecode(f *testing.F) {
	msg := "id.atrium.test wants you to sign in with your Ethereum account:\n" +
		"0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed\n\nSign in to Atrium.\n\n" +
		"URI: https://id.atrium.test/login\nVersion: 1\nChain ID: 1\nNonce: ABCDEFGH23456789\n" +
		"Issued At: 2026-11-26T12:00:00Z"
	for _, s := range []string{
		`{"message":` + quote(msg) + `,"signature":"0x` + strings.Repeat("11", 65) + `"}`,
		`{"message":` + quote(msg) + `,"signature":"0x"}`,
		`{"message":` + quote(strings.Replace(msg, "0x5aAeb", "0x5AAeb", 1)) + `,"signature":"0x00"}`,
		`{"message":"","signature":""}`, `{"message":null}`, `{"signature":12}`, `[]`, `null`, "\xff", `{"message":"a\u0000b"}`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body string) {
		r := httptest.NewRequest("POST", "/v1/auth/siwe/login", strings.NewReader(body))
		in := &atriumv1.SiweLoginRequest{}
		if err := readMessage(r, in); err != nil {
			if !fault.Is(err, fault.Invalid) {
				t.Fatalf("readMessage(%q) = %v, want an Invalid error", body, err)
			}
			return
		}
		m, sig, err := credential.ParseSigned(credential.SignedMessage{Message: in.Message, Signature: in.Signature})
		if err != nil {
			if !fault.Is(err, fault.Invalid) {
				t.Fatalf("ParseSigned(%q) = %v, want an Invalid error", body, err)
			}
			return
		}
		if got := m.String(); got != in.Message {
			t.Fatalf("ParseSigned(%q).String() = %q, want the text parsed", in.Message, got)
		}
		if len(sig) > chain.MaxWrappedSignatureLen {
			t.Fatalf("ParseSigned accepted a signature of %d bytes", len(sig))
		}
	})
}

func quote(s string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`).Replace(s) + `"`
}
