package password

import (
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/atriumid/atrium/internal/fault"
)

// The tests hash with Cheap parameters unless they name OWASP.

// TestCheckLength is the boundary table (T-B7): lengths in code
// points of multi-byte characters, min−1, min, 64, the cap and cap+1.
func TestCheckLength(t *testing.T) {
	// "é" is two bytes and one code point; "𝄞" four bytes and one code
	// point. Mixed so the count cannot be bytes.
	unit := func(n int) string {
		var b strings.Builder
		for i := range n {
			b.WriteString([]string{"é", "𝄞", "k", "ß", "7"}[i%5])
		}
		return b.String()
	}
	tests := []struct {
		name string
		pol  Policy
		n    int
		ok   bool
	}{
		{"R-01 min-1", DefaultPolicy, MinLength - 1, false},
		{"R-01 min", DefaultPolicy, MinLength, true},
		{"R-01 MFA min-1", Policy{MinLength: 8, MFAEnforced: true}, 7, false},
		{"R-01 MFA min", Policy{MinLength: 8, MFAEnforced: true}, 8, true},
		{"R-02 64", DefaultPolicy, 64, true},
		{"R-02 cap", DefaultPolicy, MaxLength, true},
		{"R-02 cap+1", DefaultPolicy, MaxLength + 1, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			pw := unit(tc.n)
			err := tc.pol.Check(pw, nil)
			if (err == nil) != tc.ok {
				t.Errorf("Check(%d code points, %d bytes) = %v, want ok %v", tc.n, len(pw), err, tc.ok)
			}
			if err != nil && !fault.Is(err, fault.Invalid) {
				t.Errorf("Check kind = %v, want Invalid", fault.KindOf(err))
			}
		})
	}
}

// TestOversizedRefusedBeforeHashing: R-02, an input over MaxBytes never
// reaches argon2 (Hash and Verify refuse it at once, even with OWASP
// parameters that would take long on 1 MiB).
func TestOversizedRefusedBeforeHashing(t *testing.T) {
	huge := strings.Repeat("a", 1<<20)
	if _, err := Hash(huge, OWASP); !fault.Is(err, fault.Invalid) {
		t.Errorf("Hash(1 MiB) = %v, want Invalid", err)
	}
	h, _ := Hash("correct horse battery staple", Cheap)
	if _, err := Verify(huge, h); !fault.Is(err, fault.Invalid) {
		t.Errorf("Verify(1 MiB) = %v, want Invalid", err)
	}
	if err := DefaultPolicy.Check(huge, nil); !fault.Is(err, fault.Invalid) {
		t.Errorf("Check(1 MiB) = %v, want Invalid", err)
	}
}

// TestPolicyValidate: R-01, a minimum below 15 needs MFA, never below 8.
func TestPolicyValidate(t *testing.T) {
	for _, tc := range []struct {
		p  Policy
		ok bool
	}{
		{DefaultPolicy, true},
		{Policy{MinLength: 12}, false},
		{Policy{MinLength: 12, MFAEnforced: true}, true},
		{Policy{MinLength: 7, MFAEnforced: true}, false},
		{Policy{MinLength: MaxLength + 1}, false},
	} {
		if err := tc.p.Validate(); (err == nil) != tc.ok {
			t.Errorf("%+v.Validate() = %v, want ok %v", tc.p, err, tc.ok)
		}
	}
}

// TestNoTruncation: R-03, a password differing from the stored one only
// after byte 72 (bcrypt's silent limit) or only in case must fail.
func TestNoTruncation(t *testing.T) {
	base := strings.Repeat("x", 72)
	h, err := Hash(base+"-tail-one-0123456789", Cheap)
	if err != nil {
		t.Fatal(err)
	}
	for _, pw := range []string{base + "-tail-two-0123456789", base, strings.ToUpper(base) + "-tail-one-0123456789"} {
		if ok, err := Verify(pw, h); ok || err != nil {
			t.Errorf("Verify(%q…) = %v, %v, want false, nil", pw[60:], ok, err)
		}
	}
	if ok, _ := Verify(base+"-tail-one-0123456789", h); !ok {
		t.Errorf("Verify(the password) = false, want true")
	}
}

// TestNFKC: R-04, canonically and compatibly equivalent spellings verify:
// NFC "é" against NFD "e\u0301", and the ligature "ﬁ" against "fi".
func TestNFKC(t *testing.T) {
	nfc := "caf\u00e9 au lait, s'il vous pla\u00eet"
	nfd := "cafe\u0301 au lait, s'il vous plai\u0302t"
	h, err := Hash(nfc, Cheap)
	if err != nil {
		t.Fatal(err)
	}
	if ok, _ := Verify(nfd, h); !ok {
		t.Errorf("Verify(NFD) against NFC hash = false, want true")
	}
	h2, _ := Hash("\ufb01ne tuning the fiddle", Cheap)
	if ok, _ := Verify("fine tuning the fiddle", h2); !ok {
		t.Errorf("Verify(fi) against ﬁ hash = false, want true")
	}
	// Unicode and spaces are accepted as they are.
	if err := DefaultPolicy.Check("пароль с пробелами и 🙂 внутри", nil); err != nil {
		t.Errorf("Check(unicode with spaces) = %v, want nil", err)
	}
}

// TestCommon: R-06, entries of the embedded list are refused in any case;
// the list has at least the 3,000 most common passwords of 8+ characters.
func TestCommon(t *testing.T) {
	if n := len(common()); n < 3000 {
		t.Errorf("blocklist has %d entries, want ≥ 3000", n)
	}
	pol := Policy{MinLength: 8, MFAEnforced: true}
	for _, pw := range []string{"password", "PassWord", "qwertyuiop", "1qaz2wsx3edc", "password1234567", "!!Dragon2024!!", "12345qwerty6789"} {
		if err := pol.Check(pw, nil); !fault.Is(err, fault.Invalid) {
			t.Errorf("Check(%q) = %v, want Invalid", pw, err)
		}
	}
	if Common("a long unusual sentence nobody picks") {
		t.Errorf("Common(a long sentence) = true, want false")
	}
}

// TestContextWords: R-07, the identifier, its local part and the service
// name and their trivial derivatives are refused.
func TestContextWords(t *testing.T) {
	ctx := []string{"alice.wonderland@example.com", "Atrium", "Acme Corporation"}
	tests := []struct {
		pw string
		ok bool
	}{
		{"alice.wonderland@example.com", false},
		{"alice.wonderland2024!", false},
		{"ATRIUMATRIUMATRIUM1", false},
		{"wonderland wonderland", false},
		{"acme corporation 123", false},
		{"alice likes long walks on the beach", true},
		{"a completely unrelated phrase", true},
	}
	for _, tc := range tests {
		if err := DefaultPolicy.Check(tc.pw, ctx); (err == nil) != tc.ok {
			t.Errorf("Check(%q, %q) = %v, want ok %v", tc.pw, ctx, err, tc.ok)
		}
	}
}

// TestHashFormat: R-09, parameters recorded in the string, a fresh 128-bit
// salt for every hash.
func TestHashFormat(t *testing.T) {
	seen := map[string]bool{}
	for range 200 {
		h, err := Hash("the same password every time", Cheap)
		if err != nil {
			t.Fatal(err)
		}
		d, err := Parse(h)
		if err != nil {
			t.Fatalf("Parse(%q) = %v", h, err)
		}
		if d.Params != Cheap || len(d.Salt) != 16 {
			t.Fatalf("Parse(%q) = %+v, want Cheap params and a 16-byte salt", h, d)
		}
		if seen[string(d.Salt)] {
			t.Fatalf("salt repeated after %d hashes", len(seen))
		}
		seen[string(d.Salt)] = true
	}
}

// TestProductionParams hashes once with the production (OWASP) profile:
// R-09, m=19 MiB, t=2, p=1 recorded in the PHC string.
func TestProductionParams(t *testing.T) {
	h, err := Hash("a production strength password", OWASP)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(h, "$argon2id$v=19$m=19456,t=2,p=1$") {
		t.Errorf("Hash(OWASP) = %q, want the OWASP parameters", h)
	}
	if ok, err := Verify("a production strength password", h); !ok || err != nil {
		t.Errorf("Verify = %v, %v, want true", ok, err)
	}
}

// TestNeedsRehash: a hash made with other parameters is flagged for
// replacement.
func TestNeedsRehash(t *testing.T) {
	h, _ := Hash("correct horse battery staple", Cheap)
	if NeedsRehash(h, Cheap) {
		t.Errorf("NeedsRehash(same params) = true")
	}
	if !NeedsRehash(h, Params{Memory: 128, Time: 1, Threads: 1}) {
		t.Errorf("NeedsRehash(new params) = false")
	}
}

func TestParseRejects(t *testing.T) {
	good, _ := Hash("correct horse battery staple", Cheap)
	for _, s := range []string{
		"", "$argon2i$v=19$m=64,t=1,p=1$c2FsdHNhbHQ$a2V5a2V5a2V5a2V5a2V5a2V5",
		strings.Replace(good, "v=19", "v=16", 1),
		strings.Replace(good, "m=64", "m=4294967295", 1),
		strings.Replace(good, "m=64", "m=064", 1),
		strings.Replace(good, "t=1", "t=0", 1),
		good + "$",
		good[:len(good)-10],
	} {
		if _, err := Parse(s); !fault.Is(err, fault.Invalid) {
			t.Errorf("Parse(%q) = %v, want Invalid", s, err)
		}
	}
}

// FuzzParse: Parse never panics, and what it accepts re-encodes to the
// same string.
func FuzzParse(f *testing.F) {
	good, _ := Hash("correct horse battery staple", Cheap)
	f.Add(good)
	f.Add("$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0c2FsdA$a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2U")
	f.Add("$argon2id$v=19$m=,t=,p=$$")
	f.Fuzz(func(t *testing.T, s string) {
		d, err := Parse(s)
		if err != nil {
			return
		}
		if got := encode(d.Params, d.Salt, d.Key); got != s {
			t.Errorf("encode(Parse(%q)) = %q", s, got)
		}
	})
}

// FuzzCheck: Check never panics and refuses what is over the limits.
func FuzzCheck(f *testing.F) {
	f.Add("correct horse battery staple", "alice@example.com")
	f.Add("\xff\xfe", "")
	f.Add(strings.Repeat("ﷺ", 300), "x")
	f.Fuzz(func(t *testing.T, pw, ctx string) {
		err := DefaultPolicy.Check(pw, []string{ctx})
		if err == nil && len(pw) > MaxBytes {
			t.Errorf("Check accepted %d bytes", len(pw))
		}
	})
}

// TestNoCompositionOrRotation: R-05, the policy has no composition rules,
// no expiry and no hints: its only knobs are the minimum length and
// whether MFA is enforced.
func TestNoCompositionOrRotation(t *testing.T) {
	var names []string
	typ := reflect.TypeOf(Policy{})
	for i := range typ.NumField() {
		names = append(names, typ.Field(i).Name)
	}
	if want := []string{"MinLength", "MFAEnforced"}; !slices.Equal(names, want) {
		t.Errorf("Policy fields = %v, want %v", names, want)
	}
}
