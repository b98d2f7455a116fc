package api

import (
	"net/http/httptest"
	"strings"
	"testing"

	atriumv1 "github.com/atriumid/atrium/gen/atrium/v1"
	"github.com/atriumid/atrium/internal/fault"
	"github.com/atriumid/atrium/internal/passkey"
)

// FuzzPasskeyRequestDecode decodes arbitrary bodies of the finish routes
// of passkey registration (even target) and login (odd) as the routes do,
// then parses the credential: every failure is a typed error of bad input,
// and nothing over the size limit gets through (R-18, T-B4-style corpus
// in testdata/fuzz, including answers of the tests' software
// authenticator).
func FuzzPasskeyRequestDecode(f *testing.F) {
	for _, s := range []string{
		`{"credential":{"id":"AAAA","rawId":"AAAA","type":"public-key","response":{"clientDataJSON":"e30","attestationObject":"oA"}}}`,
		`{"credential":{"id":"AAAA","rawId":"AAAA","type":"public-key","response":{"clientDataJSON":"e30","authenticatorData":"AA","signature":"AA"}}}`,
		`{"credential":{}}`, `{"credential":null}`, `{"credential":[]}`, `{"name":"` + strings.Repeat("x", 200) + `"}`,
		`{}`, `[]`, `null`, "\xff", `{"credential":{"response":{"clientDataJSON":"` + strings.Repeat("A", 70000) + `"}}}`,
	} {
		f.Add(s, uint8(0))
		f.Add(s, uint8(1))
	}
	f.Fuzz(func(t *testing.T, body string, target uint8) {
		var cred []byte
		var err error
		if target%2 == 0 {
			in := &atriumv1.FinishPasskeyRegistrationRequest{}
			if err = readMessage(httptest.NewRequest("POST", "/v1/auth/webauthn/register/finish", strings.NewReader(body)), in); err == nil {
				if cred, err = credentialJSON(in.Credential); err == nil {
					_, err = passkey.ParseRegistration(cred)
				}
			}
		} else {
			in := &atriumv1.FinishPasskeyLoginRequest{}
			if err = readMessage(httptest.NewRequest("POST", "/v1/auth/webauthn/login/finish", strings.NewReader(body)), in); err == nil {
				if cred, err = credentialJSON(in.Credential); err == nil {
					_, err = passkey.ParseAssertion(cred)
				}
			}
		}
		if err != nil && !fault.Is(err, fault.Invalid) && !fault.Is(err, fault.TooLarge) {
			t.Fatalf("decoding %q (target %d) = %v, want an Invalid or TooLarge error", body, target, err)
		}
		if len(cred) > passkey.MaxResponseBytes && err == nil {
			t.Fatalf("a credential of %d bytes got through", len(cred))
		}
	})
}
