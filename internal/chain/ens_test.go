package chain

import (
	"bytes"
	"encoding/hex"
	"slices"
	"strings"
	"sync"
	"testing"
	"unicode/utf8"

	"github.com/adraffy/go-ens-normalize/ensip15"

	"github.com/atriumid/atrium/internal/fault"
	"github.com/atriumid/atrium/internal/testvectors"
)

type ensip15Test struct {
	Name    string  `json:"name"`
	Norm    *string `json:"norm"`
	Error   bool    `json:"error"`
	Comment string  `json:"comment"`
}

// TestNormalizeENSIP15Vectors runs the ENSIP-15 validation tests of the
// Unicode 16 release (ens-normalize.js 1.11.0), which the library
// implements. Upgrade the file together with the library.
func TestNormalizeENSIP15Vectors(t *testing.T) {
	var tests []ensip15Test
	testvectors.Decode(t, "ensip15/tests-1.11.0.json", &tests)
	if len(tests) != 38229 || tests[0].Name != "version" {
		t.Fatalf("read %d ENSIP-15 tests, want a version record and 38,228 tests", len(tests))
	}
	failed := 0
	for _, c := range tests[1:] {
		got, err := NormalizeENS(c.Name)
		want := c.Name
		if c.Norm != nil {
			want = *c.Norm
		}
		switch {
		case c.Error && err == nil:
			t.Errorf("NormalizeENS(%+q) = %+q, want an error (%s)", c.Name, got, c.Comment)
		case c.Error && !fault.Is(err, fault.Invalid):
			t.Errorf("NormalizeENS(%+q) error kind = %v, want Invalid", c.Name, fault.KindOf(err))
		case !c.Error && (err != nil || got != want):
			t.Errorf("NormalizeENS(%+q) = %+q, %v; want %+q", c.Name, got, err, want)
		default:
			continue
		}
		if failed++; failed > 20 {
			t.Fatal("too many failures")
		}
	}
}

// TestENSIP15NormalizationForms runs the Unicode 16 NFC/NFD tests against
// the normalisation forms the ENSIP-15 library carries (it does not use
// golang.org/x/text, which is at Unicode 15).
func TestENSIP15NormalizationForms(t *testing.T) {
	var sections map[string][][3]string
	testvectors.Decode(t, "ensip15/nf-tests-1.11.0.json", &sections)
	nf := ensip15.Shared().NF()
	n := 0
	for section, cases := range sections {
		for _, c := range cases {
			n++
			in := []rune(c[0])
			if got := string(nf.NFD(in)); got != c[1] {
				t.Errorf("%s: NFD(%+q) = %+q, want %+q", section, c[0], got, c[1])
			}
			if got := string(nf.NFC(in)); got != c[2] {
				t.Errorf("%s: NFC(%+q) = %+q, want %+q", section, c[0], got, c[2])
			}
		}
	}
	if n != 19965 {
		t.Errorf("ran %d NF tests, want 19,965", n)
	}
	if v := nf.UnicodeVersion(); !strings.HasPrefix(v, "16.") {
		t.Errorf("NF Unicode version = %s, want 16.x", v)
	}
}

// ethersDiffs are the ethers.js namehash vectors (made with ens-normalize
// 1.10.1, Unicode 15.1) on which ENSIP-15 as of 1.11.0 (Unicode 16) decides
// differently, keyed by the hex that starts the vector's name, with the
// reason. Any other mismatch fails the test, and so does an entry that no
// longer differs.
var ethersDiffs = map[string]string{
	"0xf09faba9f09faba9f09faba9f09faba9f09faba9f09faba9": `U+1FAE9, new in Unicode 16: disallowed then, valid now`,
	"0xefbc8430303038": `U+FF04 FULLWIDTH DOLLAR SIGN: disallowed then, mapped to "$" now`,
	"0xf09faba9f09faba9f09faba9f09faba9f09faba9f09faba9f09faba9":                               `U+1FAE9, new in Unicode 16: disallowed then, valid now`,
	"0xefb4bdf09f9ab4f09f8fbc":                                                                 `Arabic U+FD3D before emoji: valid then, a whole-script confusable now`,
	"0xf09f91a8e2808df09f8fade2b2bde2b3bae2b3b0e2b3a3e2b3afe2b3b0f3a0858fe2b395e2b3b1f3a0879e": `Coptic U+2CFA or U+2CFB: valid then, disallowed now`,
	"0xcface2b284e2b3aee2b28cf3a08585e2b39dcfa7e2b288cfade2b2a5e2b3afe2b29ee2b290e2b281e2b3afe2b3bbf09f8f83f09f8fbce2b287e2b3a9e2b2a5":                                                                                       `Coptic U+2CFA or U+2CFB: valid then, disallowed now`,
	"0xe2b293e2b29be2b3afe2b38df3a08589f3a085a9e2b289e2b2aae2b2bde2b3a7e2b390e2b293e2b281cfa9e2b2abe2b3a7e2b2b3e2b2a5e2b3b3e2b3aff09f8f83f09f8fbee2b28de2b2a2e2b2a7e2b381f3a08599e2b3bacfa7e2b29de2b3abe2b2a5e2b283e2b2bd":   `Coptic U+2CFA or U+2CFB: valid then, disallowed now`,
	"0xe2b398e2b2b5e2b3bde2b38fcfabe2b386e2b3b0e2b3b1e2b3afe2b290e2b3b0e2b399e2b29be2b295f3a085afe2b290e2b3b1e2b283f09f91a8f09f8fbee2808de29da4e2808df09f928be2808df09f91a8f09f8fbee2b38acface2b3bbe2b3b1e2b2b7e2b3b1e2b3bf": `Coptic U+2CFA or U+2CFB: valid then, disallowed now`,
	"0xe2b291e2b39ae2b283e2b3b0e2b3a8e2b2afe2b289cfafe2b38de2b38be2b3b1e2b3b0e2b381e2b3bbe2b3bde2b399e2b2afe2b2b1e2b29fcfabcfa3e2b389e2b388e2b2a1cfa9e2b3b1f3a086a4f3a08683e2b3b0e2b281e2b39de2b383e2b291e2b3b0":             `Coptic U+2CFA or U+2CFB: valid then, disallowed now`,
	"0xe2b3adcfa3e2b29de2b2b4e2b2b4e2b2a7f3a08486cfa9e2b294e1a08be2b3b1f3a085a5cfa7e2b29de2b29ee2b2a2e2b3b0cfa3f3a0869de2b391f09f91a8f09f8fbbe2808df09f8fade2b28ce2b3a3e2b2a3e2b39de2b288e2b3aae2b3bbe2b38de2b29fe2b3af":     `Coptic U+2CFA or U+2CFB: valid then, disallowed now`,
	"0xe2b397e2b297e2b3bde2b38be2b289e2b38ecfaae2b397e2b29de2b3bacfa7e2b2b1e2b3afe2b281cfa7cfa4e2b29ce2b28dcfabe2b3b0e2b2b9":                                                                                                 `Coptic U+2CFA or U+2CFB: valid then, disallowed now`,
	"0xe2b3bae2b39be2b287e2b2a8e2b386e2b3b1f3a08480e2b299e2b2bde2b2a9cfade2b3a1cfade2b2bdf09f91a9f09f8fbfe2808df09f8fade2b293e2b399e2b290":                                                                                   `Coptic U+2CFA or U+2CFB: valid then, disallowed now`,
	"0xf3a08787e2b3a4e2b2b1e2b3a6e2b2a9e2b28fe2b389e2b3ba":                               `Coptic U+2CFA or U+2CFB: valid then, disallowed now`,
	"0xf3a08795e2b2b9e2b3bbf3a084bde2b39be2b290e2b3a9e2b2bdcfa3e2b3afe2b38be2b39ce2b393": `Coptic U+2CFA or U+2CFB: valid then, disallowed now`,
	"0xe2b283e2b3bae2b2a6e2b3aee2b2b7":                                                   `Coptic U+2CFA or U+2CFB: valid then, disallowed now`,
}

func TestNamehashEthersVectors(t *testing.T) {
	var cases []struct {
		Name     string  `json:"name"`
		ENSName  string  `json:"ensName"`
		Namehash *string `json:"namehash"`
		Error    *string `json:"error"`
	}
	testvectors.Decode(t, "ens/namehash-ethers.json.gz", &cases)
	if len(cases) != 37490 {
		t.Fatalf("read %d ethers namehash vectors, want 37,490", len(cases))
	}
	var differ []string
	for _, c := range cases {
		norm, err := NormalizeENS(c.ENSName)
		var ok bool
		switch {
		case c.ENSName == "":
			// ethers reports an error for "" but gives its namehash 0;
			// under ENSIP-15 "" normalises to "" with namehash 0.
			ok = err == nil && norm == "" && Namehash(norm) == [32]byte{}
		case c.Error != nil:
			ok = err != nil
		default:
			h := Namehash(norm)
			ok = err == nil && "0x"+hex.EncodeToString(h[:]) == *c.Namehash
		}
		if !ok {
			key, _, _ := strings.Cut(c.Name, " ")
			differ = append(differ, key)
			if _, known := ethersDiffs[key]; !known {
				t.Errorf("ethers vector %q (%+q): NormalizeENS = %+q, %v; want namehash %s, error %s", c.Name, c.ENSName, norm, err, deref(c.Namehash), deref(c.Error))
			}
		}
	}
	for name := range ethersDiffs {
		if !slices.Contains(differ, name) {
			t.Errorf("ethers vector %s is listed as a known difference but now agrees; remove it", name)
		}
	}
}

func deref(s *string) string {
	if s == nil {
		return "none"
	}
	return *s
}

func TestNamehashEIP137Vectors(t *testing.T) {
	type vector struct {
		Name       string `json:"name"`
		Namehash   string `json:"namehash"`
		Labelhash  string `json:"labelhash_first_label"`
		DNSEncoded string `json:"dns_encoded"`
	}
	for _, v := range loadVectorList[vector](t, "ens/namehash-eip137.json", 12) {
		if got := Namehash(v.Name); !bytes.Equal(got[:], unhex(t, v.Namehash)) {
			t.Errorf("Namehash(%q) = %x, want %s", v.Name, got, v.Namehash)
		}
		if v.Labelhash != "" {
			first, _, _ := strings.Cut(v.Name, ".")
			if got := Keccak256([]byte(first)); !bytes.Equal(got[:], unhex(t, v.Labelhash)) {
				t.Errorf("labelhash(%q) = %x, want %s", first, got, v.Labelhash)
			}
		}
		if got, err := DNSEncode(v.Name); err != nil || !bytes.Equal(got, unhex(t, v.DNSEncoded)) {
			t.Errorf("DNSEncode(%q) = %x, %v; want %s", v.Name, got, err, v.DNSEncoded)
		}
	}
	// An "xn--" label is not valid ENSIP-15, and is never Punycode-decoded.
	if _, err := NormalizeENS("xn--ls8h.eth"); err == nil {
		t.Errorf("NormalizeENS(xn--ls8h.eth) = nil error, want an error")
	}
}

func TestNormalizeENSRejects(t *testing.T) {
	for _, in := range []string{
		"\xff.eth",
		"a\xc0b.eth",
		strings.Repeat("a", MaxENSNameLen+1),
		"te--st.eth",
		"a..eth",
		" nick.eth",
		"nick.eth.",
	} {
		if got, err := NormalizeENS(in); err == nil || !fault.Is(err, fault.Invalid) {
			t.Errorf("NormalizeENS(%.40q) = %q, %v; want an Invalid error", in, got, err)
		}
	}
	if got, err := NormalizeENS("Nick.ETH"); err != nil || got != "nick.eth" {
		t.Errorf("NormalizeENS(Nick.ETH) = %q, %v", got, err)
	}
	_, err := NormalizeENS("a\u2800b.eth")
	if msg, _ := fault.PublicOf(err); strings.Contains(msg, "\u2800") || strings.Contains(msg, "2800") {
		t.Errorf("NormalizeENS public message %q names the character", msg)
	}
}

func TestDNSEncodeRejects(t *testing.T) {
	for _, in := range []string{".", "a..eth", "eth.", ".eth", strings.Repeat("a", 256) + ".eth", strings.Repeat("a", MaxENSNameLen+1)} {
		if got, err := DNSEncode(in); err == nil || !fault.Is(err, fault.Invalid) {
			t.Errorf("DNSEncode(%.40q) = %x, %v; want an Invalid error", in, got, err)
		}
	}
	if got, err := DNSEncode(strings.Repeat("a", 255)); err != nil || len(got) != 257 || got[0] != 255 {
		t.Errorf("DNSEncode(255-byte label) = %d bytes, %v", len(got), err)
	}
}

func TestNormalizeENSConcurrent(t *testing.T) {
	var wg sync.WaitGroup
	for i := range 4 {
		wg.Go(func() {
			for j := range 200 {
				name := strings.Repeat("Ab", i+j%5) + "😀.eth"
				if _, err := NormalizeENS(name); err != nil {
					t.Errorf("NormalizeENS(%q) = %v", name, err)
				}
			}
		})
	}
	wg.Wait()
}

func FuzzNormalizeENS(f *testing.F) {
	for _, s := range []string{"", "nick.eth", "Nick.ETH", "💩.eth", "xn--ls8h.eth", "te--st", "a..b", "ß.eth", "\xff"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		norm, err := NormalizeENS(name)
		if err != nil {
			if !fault.Is(err, fault.Invalid) {
				t.Fatalf("NormalizeENS(%+q) error kind %v, want Invalid", name, fault.KindOf(err))
			}
			return
		}
		if !utf8.ValidString(norm) {
			t.Fatalf("NormalizeENS(%+q) = %+q, not UTF-8", name, norm)
		}
		// Normalisation is idempotent.
		if again, err := NormalizeENS(norm); err != nil || again != norm {
			t.Fatalf("NormalizeENS(%+q) = %+q, %v; want %+q", norm, again, err, norm)
		}
		if enc, err := DNSEncode(norm); err == nil && len(enc) != len(norm)+2 && norm != "" {
			t.Fatalf("DNSEncode(%+q) = %d bytes, want %d", norm, len(enc), len(norm)+2)
		}
		_ = Namehash(norm)
	})
}
