package credential

import (
	"strings"
	"testing"

	"github.com/atriumid/atrium/internal/fault"
)

// A passkey's name is trimmed, defaults to "Passkey", and is refused when
// it is too long or not printable.
func TestPasskeyName(t *testing.T) {
	for in, want := range map[string]string{"": "Passkey", "  laptop  ": "laptop", "Clé de Zoë": "Clé de Zoë", strings.Repeat("x", MaxPasskeyName): strings.Repeat("x", MaxPasskeyName)} {
		if got, err := passkeyName("test", in); err != nil || got != want {
			t.Errorf("passkeyName(%q) = %q, %v, want %q", in, got, err, want)
		}
	}
	for _, in := range []string{strings.Repeat("x", MaxPasskeyName+1), "a\x00b", "tab\there", "\xff", "del\x7f"} {
		if _, err := passkeyName("test", in); !fault.Is(err, fault.Invalid) {
			t.Errorf("passkeyName(%q) = %v, want Invalid", in, err)
		}
	}
}
