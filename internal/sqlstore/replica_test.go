package sqlstore

import (
	"fmt"
	"testing"
)

func TestParseLSN(t *testing.T) {
	for in, want := range map[string]uint64{"0/0": 0, "0/16B3748": 0x16B3748, "16/B374D848": 0x16<<32 | 0xB374D848, "FFFFFFFF/FFFFFFFF": 1<<64 - 1} {
		if got, err := parseLSN(in); err != nil || got != want {
			t.Errorf("parseLSN(%q) = %#x, %v; want %#x", in, got, err, want)
		}
	}
	for _, in := range []string{"", "0", "/", "1/", "/1", "x/1", "1/100000000", "-1/1", "1/1/1"} {
		if _, err := parseLSN(in); err == nil {
			t.Errorf("parseLSN(%q) = nil error, want one", in)
		}
	}
}

// FuzzParseLSN checks that parseLSN never panics and reads back what it
// accepts in PostgreSQL's form.
func FuzzParseLSN(f *testing.F) {
	f.Fuzz(func(t *testing.T, s string) {
		n, err := parseLSN(s)
		if err != nil {
			return
		}
		if _, err := parseLSN(fmt.Sprintf("%X/%X", n>>32, n&0xFFFFFFFF)); err != nil {
			t.Fatalf("parseLSN(%q) = %#x, whose own form does not parse: %v", s, n, err)
		}
	})
}
