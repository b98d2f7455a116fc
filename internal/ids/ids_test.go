package ids

import (
	"sort"
	"strings"
	"testing"
)

func TestNewIsParseableAndOrdered(t *testing.T) {
	var got []string
	for range 1000 {
		id := New("org")
		p, c, err := Parse(id)
		if err != nil || p != "org" || c != id {
			t.Fatalf("Parse(%q) = %q, %q, %v; want org, %q, nil", id, p, c, err, id)
		}
		got = append(got, id)
	}
	if !sort.StringsAreSorted(got) {
		t.Errorf("IDs made in sequence do not sort in sequence")
	}
}

func TestParseRejects(t *testing.T) {
	valid := New("usr")
	for _, in := range []string{
		"", "usr", "usr_", "_" + valid[4:], "USR" + valid[3:], "usr_" + strings.Repeat("0", 25),
		"usr_" + strings.Repeat("0", 27), "usr_" + "8" + strings.Repeat("0", 25), // overflows 128 bits
		"usr_" + strings.Repeat("U", 26), // U is not in Crockford's alphabet
		"us-r_" + valid[4:], strings.Repeat("a", MaxPrefixLen+1) + valid[3:],
	} {
		if _, _, err := Parse(in); err == nil {
			t.Errorf("Parse(%q) = nil error, want ErrMalformed", in)
		}
	}
	if _, c, err := Parse(strings.ToLower(valid)); err != nil || c != valid {
		t.Errorf("Parse(lower-case) = %q, %v; want %q, nil", c, err, valid)
	}
}

func FuzzParse(f *testing.F) {
	f.Add(New("org"))
	f.Add("usr_01JD3QZ8M6X4T5W2K9B7C1D0EF")
	f.Add("a_b_c")
	f.Fuzz(func(t *testing.T, s string) {
		p, c, err := Parse(s)
		if err != nil {
			return
		}
		if !ValidPrefix(p) || !strings.EqualFold(c, s) {
			t.Fatalf("Parse(%q) = %q, %q", s, p, c)
		}
		if _, c2, err := Parse(c); err != nil || c2 != c {
			t.Fatalf("Parse(canonical %q) = %q, %v", c, c2, err)
		}
	})
}
