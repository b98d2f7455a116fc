package session

import (
	"testing"
)

// session tokens carry 256 random bits and only their SHA-256 is
// stored.
func TestTokenShape(t *testing.T) {
	if !LooksLikeToken("ats_" + "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA") {
		t.Errorf("LooksLikeToken(43 base64url characters) = false")
	}
	for _, s := range []string{"", "ats_", "atr_x_y", "ats_short"} {
		if LooksLikeToken(s) {
			t.Errorf("LooksLikeToken(%q) = true", s)
		}
	}
	if len(Hash("x")) != 32 {
		t.Errorf("len(Hash) = %d, want 32", len(Hash("x")))
	}
}

func TestAALString(t *testing.T) {
	if AAL1.String() != "aal1" || AAL2.String() != "aal2" {
		t.Errorf("AAL strings = %s, %s", AAL1, AAL2)
	}
}
