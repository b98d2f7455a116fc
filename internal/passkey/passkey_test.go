package passkey

import (
	"strings"
	"testing"

	"github.com/atriumid/atrium/internal/fault"
)

// A relying party is refused without a usable ID or origin.
func TestNewRefusesBadRelyingParty(t *testing.T) {
	for _, c := range []Config{
		{RPID: "127.0.0.1", Origins: []string{"https://127.0.0.1"}},
		{RPID: "", Origins: []string{"https://id.example.com"}},
		{RPID: "id.example.com"},
	} {
		if _, err := New(c); !fault.Is(err, fault.Invalid) {
			t.Errorf("New(%+v) = %v, want Invalid", c, err)
		}
	}
	if _, err := New(Config{RPID: "id.example.com", Origins: []string{"https://id.example.com"}}); err != nil {
		t.Errorf("New(valid) = %v", err)
	}
}

// answers over the size limit are refused before parsing, malformed
// ones with a violation on "credential".
func TestParseLimits(t *testing.T) {
	big := []byte(`{"id":"` + strings.Repeat("A", MaxResponseBytes) + `"}`)
	for name, parse := range map[string]func([]byte) error{
		"registration": func(b []byte) error { _, err := ParseRegistration(b); return err },
		"assertion":    func(b []byte) error { _, err := ParseAssertion(b); return err },
	} {
		if err := parse(big); !fault.Is(err, fault.TooLarge) {
			t.Errorf("%s of %d bytes = %v, want TooLarge", name, len(big), err)
		}
		err := parse([]byte(`{"id":"AAAA","type":"public-key"}`))
		if _, vs := fault.PublicOf(err); !fault.Is(err, fault.Invalid) || len(vs) != 1 || vs[0].Field != "credential" {
			t.Errorf("%s of a malformed answer = %v, want Invalid on credential", name, err)
		}
	}
}
