package identifier

import "testing"

// fuzzSeeds are inputs worth starting every normalizer's fuzzing from.
var fuzzSeeds = []string{
	"", " ", "\x00", "\xff", "\u200b", "@", "+", "..", "\u3164",
	"alice@example.com", "Alice@Bücher.DE", "a+b@xn--bcher-kva.de", `"a@b"@example.com`, "a(b)@c.d",
	"alice@example.com\r\nBcc: eve@example.com", "ａｌｉｃｅ＠ｅｘａｍｐｌｅ．ｃｏｍ", "al\u00adice@exa\u200bmple.com",
	"İnfo@example.com", "ınfo@example.com", "Straße@straße.de", "x@xn--a.com", "x@xn--u-ccb.com", "x@1.2.3.4",
	"x@[IPv6:::1]", "x@example.com.", "x@-a.com", "ǅ@example.com",
	"+14155552671", "+1 (415) 555-2671", "＋１ ４１５ ５５５ ２６７１", "+٤٤ ٢٠ ٧٩٤٦ ٠٩٥٨", "+44 (0)20 7946 0958",
	"+39 06 1234 5678", "+1 800 FLOWERS", "+1 415 555 2671 ext. 12", "00441234567890", "+999999999999999999",
	"alice", "ALICE_01", "a.b-c_d", "аlice", "ⓐⓑⓒ", "\u212Aate", "0xdeadbeef", "vitalik.eth",
	"usr_01jd3qz8m6x4t5w2k9b7c1d0ef", "_a", "a__b", "\u202ealice\u202c",
}

// fuzzNormalize checks that Normalize(typ, in) does not panic, refuses with
// a fault.Invalid error, or accepts a canonical value that normalizes to
// itself and has the shape of typ.
func fuzzNormalize(f *testing.F, typ Type) {
	for _, s := range fuzzSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		if msg := checkNormalize(typ, in); msg != "" {
			t.Fatal(msg)
		}
	})
}

func FuzzNormalizeEmail(f *testing.F)    { fuzzNormalize(f, Email) }
func FuzzNormalizePhone(f *testing.F)    { fuzzNormalize(f, Phone) }
func FuzzNormalizeUsername(f *testing.F) { fuzzNormalize(f, Username) }

// FuzzNormalizePlugged checks the common rules around a plugged-in
// normalizer: whatever the value, the result is stable or refused.
func FuzzNormalizePlugged(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add(s)
	}
	n := Normalizers{Wallet: func(s string) (string, error) { return s, nil }}
	f.Fuzz(func(t *testing.T, in string) {
		c, err := n.Normalize(Wallet, in)
		if err != nil {
			return
		}
		if again, err := n.Normalize(Wallet, c); err != nil || again != c {
			t.Fatalf("Normalize(Wallet, %q) = %q, %v, want %q", c, again, err, c)
		}
	})
}
