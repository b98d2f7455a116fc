package identifier

import (
	"strings"
	"testing"
)

func TestNormalizeUsername(t *testing.T) {
	runCases(t, Username, []normCase{
		{"alice", "alice"},
		{"Alice", "alice"},
		{"ALICE_01", "alice_01"},
		{"a.b-c_d", "a.b-c_d"},
		{"abc", "abc"},
		{"007", "007"},
		{strings.Repeat("z", 32), strings.Repeat("z", 32)},
		{" alice\t", "alice"},
		{"ａｌｉｃｅ", "alice"},
		{"al\u200bi\u200cc\u200de", "alice"},
		{"\u00adalice\ufeff", "alice"},
		{"Straße", "strasse"},
		{"\u212Aate", "kate"}, // KELVIN SIGN
		{"ﬁnn", "finn"},
		{"ⓐⓑⓒ", "abc"},
		{"0xford", "0xford"},
		{"vitalik.eth2", "vitalik.eth2"},
		{"org_founders", "org_founders"},

		{"ab", ""},
		{strings.Repeat("z", 33), ""},
		{"al ice", ""},
		{"alice@example.com", ""},
		{"+14155552671", ""},
		{"_alice", ""},
		{"alice_", ""},
		{".alice", ""},
		{"alice.", ""},
		{"al__ice", ""},
		{"al.-ice", ""},
		{"al/ice", ""},
		{"аlice", ""}, // Cyrillic а
		{"ρaul", ""},  // Greek rho
		{"ınfo", ""},  // dotless i
		{"İnfo", ""},  // folds to i + combining dot
		{"josé", ""},
		{"jose\u0301", ""},
		{"用户名", ""},
		{"0xdeadbeef", ""},
		{"0XDEADBEEF", ""},
		{"0x", ""},
		{"vitalik.eth", ""},
		{"VITALIK.ETH", ""},
		{"usr_01jd3qz8m6x4t5w2k9b7c1d0ef", ""},
		{"org_01JD3QZ8M6X4T5W2K9B7C1D0EF", ""},
		{"alice\u2028", "alice"},
		{"ali\u2028ce", ""},
	})
}

func TestSkeleton(t *testing.T) {
	for _, c := range []struct{ a, b string }{
		{"rnike1", "mikel"},
		{"g00gle", "google"},
		{"paypa1", "paypal"},
		{"modern", "rnodern"},
		{"mm", "rnrn"},
	} {
		if sa, sb := Skeleton(c.a), Skeleton(c.b); sa != sb {
			t.Errorf("Skeleton(%q) = %q, Skeleton(%q) = %q, want them equal", c.a, sa, c.b, sb)
		}
	}
	for _, c := range []struct{ a, b string }{{"alice", "a1ice2"}, {"a.b", "a_b"}, {"bob", "dob"}} {
		if sa, sb := Skeleton(c.a), Skeleton(c.b); sa == sb {
			t.Errorf("Skeleton(%q) = Skeleton(%q) = %q, want them different", c.a, c.b, sa)
		}
	}
}
