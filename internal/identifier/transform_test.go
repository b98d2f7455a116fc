package identifier

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/nyaruka/phonenumbers"
	"golang.org/x/net/idna"
	"golang.org/x/text/cases"
	"golang.org/x/text/language"
	"golang.org/x/text/unicode/norm"
)

// outcome is what a transform family promises for its variants.
type outcome int

const (
	same          outcome = iota // every variant normalizes to the base's canonical value
	sameOrRefused                // every variant normalizes to it or is refused
	refused                      // every variant that differs from the base is refused
)

// family is one way of writing an identifier differently, from T-B5 of the
// reliability and security research: each variant must find the base's
// account or be refused, never become an account of its own.
type family struct {
	name     string
	types    []Type
	outcome  outcome
	variants func(typ Type, base string) []string
}

var (
	allTypes  = []Type{Email, Phone, Username}
	textTypes = []Type{Email, Username}
)

// whole applies f to the whole value.
func whole(f func(string) string) func(Type, string) []string {
	return func(_ Type, s string) []string { return []string{f(s)} }
}

// local applies f to the local part of an e-mail address, or to the whole
// value of another type. Transforms that change letters into other letters
// use it: in a domain they make a different, registrable domain name.
func local(f func(string) string) func(Type, string) []string {
	return func(typ Type, s string) []string {
		if at := strings.LastIndexByte(s, '@'); typ == Email && at >= 0 {
			return []string{f(s[:at]) + s[at:]}
		}
		return []string{f(s)}
	}
}

// domain applies f to the domain of an e-mail address.
func domain(f func(string) string) func(Type, string) []string {
	return func(_ Type, s string) []string {
		at := strings.LastIndexByte(s, '@')
		return []string{s[:at+1] + f(s[at+1:])}
	}
}

// atEach inserts one of ins at every position of the value, ends included,
// taking them in turn.
func atEach(ins ...string) func(Type, string) []string {
	return func(_ Type, s string) []string {
		var out []string
		for i := range s {
			out = append(out, s[:i]+ins[len(out)%len(ins)]+s[i:])
		}
		return append(out, s+ins[len(out)%len(ins)])
	}
}

// inside inserts one of ins at every position strictly inside the value,
// taking them in turn.
func inside(ins ...string) func(Type, string) []string {
	return func(_ Type, s string) []string {
		var out []string
		for i := range s {
			if i > 0 {
				out = append(out, s[:i]+ins[len(out)%len(ins)]+s[i:])
			}
		}
		return out
	}
}

// mapRunes replaces runes found in m.
func mapRunes(m map[rune]rune) func(string) string {
	return func(s string) string {
		return strings.Map(func(r rune) rune {
			if x, ok := m[r]; ok {
				return x
			}
			return r
		}, s)
	}
}

func fullwidth(s string) string {
	return strings.Map(func(r rune) rune {
		if '!' <= r && r <= '~' {
			return r - '!' + '\uFF01'
		}
		return r
	}, s)
}

func alternateCase(s string) string {
	var b strings.Builder
	for i, r := range s {
		if i%2 == 0 {
			b.WriteString(strings.ToUpper(string(r)))
		} else {
			b.WriteRune(r)
		}
	}
	return b.String()
}

// afterEachRune appends suffix to every rune.
func afterEachRune(suffix string) func(string) string {
	return func(s string) string {
		var b strings.Builder
		for _, r := range s {
			b.WriteRune(r)
			b.WriteString(suffix)
		}
		return b.String()
	}
}

// phoneFormats writes a phone number in the ways people do.
func phoneFormats(_ Type, s string) []string {
	num, err := phonenumbers.Parse(s, "ZZ")
	if err != nil {
		return nil
	}
	intl := phonenumbers.Format(num, phonenumbers.INTERNATIONAL)
	rfc := strings.TrimPrefix(phonenumbers.Format(num, phonenumbers.RFC3966), "tel:")
	return []string{
		intl,
		rfc,
		strings.ReplaceAll(intl, " ", "."),
		strings.ReplaceAll(intl, " ", "/"),
		strings.ReplaceAll(intl, " ", "\u00a0"),
		strings.ReplaceAll(intl, " ", "\u3000"),
		strings.Replace(intl, " ", " (", 1) + ")",
		strings.ReplaceAll(intl, " ", ""),
		mapRunes(digitsOf('٠'))(intl), // Arabic-Indic
		mapRunes(digitsOf('०'))(intl), // Devanagari
	}
}

// digitsOf maps ASCII digits to the digits starting at zero.
func digitsOf(zero rune) map[rune]rune {
	m := make(map[rune]rune, 10)
	for i := range rune(10) {
		m['0'+i] = zero + i
	}
	return m
}

var families = []family{
	{"upper case", allTypes, same, whole(strings.ToUpper)},
	{"alternating case", allTypes, same, whole(alternateCase)},
	{"title case", textTypes, same, whole(cases.Title(language.Und, cases.NoLower).String)},
	{"Turkish upper case (dotted İ)", textTypes, sameOrRefused, local(cases.Upper(language.Turkish).String)},
	{"Turkish lower case (dotless ı)", textTypes, sameOrRefused, local(func(s string) string {
		return cases.Lower(language.Turkish).String(strings.ToUpper(s))
	})},
	{"German sharp s", textTypes, same, local(func(s string) string { return strings.ReplaceAll(s, "ss", "ß") })},
	{"capital sharp s", textTypes, same, local(func(s string) string { return strings.ReplaceAll(s, "ss", "ẞ") })},
	{"fullwidth", allTypes, same, whole(fullwidth)},
	{"compatibility letters (Kelvin sign, long s, ligature)", textTypes, same,
		local(func(s string) string {
			s = strings.ReplaceAll(s, "fi", "ﬁ")
			return mapRunes(map[rune]rune{'k': 'K', 's': 'ſ'})(s)
		})},
	{"circled and mathematical letters", textTypes, same, local(mapRunes(map[rune]rune{
		'a': 'ⓐ', 'b': '𝐛', 'c': '𝒸', 'd': '𝔡', 'e': '𝕖', 'n': 'ₙ', '1': '¹', '2': '₂'}))},
	{"NFC", allTypes, same, whole(norm.NFC.String)},
	{"NFD", allTypes, same, whole(norm.NFD.String)},
	{"NFKC", allTypes, same, whole(norm.NFKC.String)},
	{"NFKD", allTypes, same, whole(norm.NFKD.String)},
	{"zero-width space, non-joiner and joiner", allTypes, same, atEach("\u200b", "\u200c", "\u200d")},
	{"soft hyphen", allTypes, same, atEach("\u00ad")},
	{"byte order mark", allTypes, same, atEach("\ufeff")},
	{"word joiner and invisible operators", allTypes, same, atEach("\u2060", "\u2062")},
	{"Mongolian vowel separator", allTypes, same, atEach("\u180e")},
	{"bidirectional controls", allTypes, same, func(typ Type, s string) []string {
		return append(atEach("\u200e", "\u200f", "\u061c")(typ, s),
			"\u202e"+s+"\u202c", "\u2066"+s+"\u2069", "\u202d"+s)
	}},
	{"Hangul fillers", allTypes, same, atEach("\u3164", "\uffa0", "\u115f")},
	{"variation selectors", allTypes, same, func(typ Type, s string) []string {
		return []string{afterEachRune("\ufe0f")(s), afterEachRune("\ufe00")(s), afterEachRune("\U000E0100")(s)}
	}},
	{"combining grapheme joiner", allTypes, same, atEach("\u034f")},
	{"tag characters", allTypes, same, whole(func(s string) string { return s + "\U000E0041\U000E007F" })},
	{"surrounding white space", allTypes, same, func(_ Type, s string) []string {
		return []string{" " + s, s + " ", "\t" + s + "\r\n", "\u00a0" + s + "\u3000", "\u2028" + s + "\u0085"}
	}},
	{"inner white space", allTypes, sameOrRefused, atEach(" ", "\u00a0", "\u2009")},
	{"inner line breaks and controls", allTypes, refused, func(typ Type, s string) []string {
		return append(inside("\r\n", "\n", "\r")(typ, s), atEach("\x00", "\x7f", "\x1b")(typ, s)...)
	}},
	{"combining marks", textTypes, refused, local(afterEachRune("\u0301"))},
	{"precomposed accents", textTypes, refused, local(mapRunes(map[rune]rune{'a': 'á', 'e': 'é', 'o': 'ö', 'u': 'ü'}))},
	{"Cyrillic homoglyphs", textTypes, refused, local(mapRunes(map[rune]rune{
		'a': 'а', 'c': 'с', 'e': 'е', 'i': 'і', 'o': 'о', 'p': 'р', 'x': 'х', 'y': 'у'}))},
	{"Greek homoglyphs", textTypes, refused, local(mapRunes(map[rune]rune{'o': 'ο', 'v': 'ν', 'i': 'ι', 'k': 'κ'}))},
	{"IDNA A-label and U-label", []Type{Email}, same, func(typ Type, s string) []string {
		a, _ := idna.Lookup.ToASCII(s[strings.LastIndexByte(s, '@')+1:])
		u, _ := idna.Lookup.ToUnicode(a)
		return slices.Concat(domain(func(string) string { return a })(typ, s),
			domain(func(string) string { return strings.ToUpper(a) })(typ, s),
			domain(func(string) string { return u })(typ, s))
	}},
	{"ideographic and fullwidth full stops", []Type{Email}, same, domain(mapRunes(map[rune]rune{'.': '。'}))},
	{"phone formatting", []Type{Phone}, same, phoneFormats},
	{"phone trunk prefix", []Type{Phone}, sameOrRefused, func(_ Type, s string) []string {
		num, err := phonenumbers.Parse(s, "ZZ")
		if err != nil {
			return nil
		}
		// Only where dialling drops a national "0" is "+cc (0)…" the same
		// number; in Italy the 0 belongs to the number.
		if phonenumbers.GetNddPrefixForRegion(phonenumbers.GetRegionCodeForNumber(num), true) != "0" {
			return nil
		}
		cc := fmt.Sprint(num.GetCountryCode())
		return []string{"+" + cc + " (0)" + s[1+len(cc):], "+" + cc + "0" + s[1+len(cc):]}
	}},
}

// TestSkeletonFlagsLookalikes applies the ASCII lookalike substitutions to
// usernames. A variant that is accepted as a different username must share
// its base's skeleton, so the store can flag or refuse it.
func TestSkeletonFlagsLookalikes(t *testing.T) {
	lookalikes := []func(string) string{
		mapRunes(map[rune]rune{'l': '1'}), mapRunes(map[rune]rune{'1': 'l'}),
		mapRunes(map[rune]rune{'o': '0'}), mapRunes(map[rune]rune{'0': 'o'}),
		func(s string) string { return strings.ReplaceAll(s, "m", "rn") },
		func(s string) string { return strings.ReplaceAll(s, "rn", "m") },
	}
	unflagged := 0
	for _, base := range bases(Username, 300) {
		canon, err := Normalize(Username, base)
		if err != nil {
			t.Fatalf("Normalize(Username, %q) = %v, want a base that is accepted", base, err)
		}
		for _, f := range lookalikes {
			got, err := Normalize(Username, f(base))
			if err == nil && got != canon && Skeleton(got) != Skeleton(canon) {
				unflagged++
				t.Errorf("Skeleton(%q) = %q, Skeleton(%q) = %q, want them equal", got, Skeleton(got), canon, Skeleton(canon))
			}
		}
	}
	t.Logf("skeleton_collision_unflagged=%d", unflagged)
}

// bases returns about n identifiers per type, made deterministically.
func bases(typ Type, n int) []string {
	rng := rand.New(rand.NewPCG(1, uint64(len(typ))))
	word := func(min, max int, seps string) string {
		const letters = "abcdefghijklmnopqrstuvwxyz0123456789"
		l := min + rng.IntN(max-min+1)
		var b strings.Builder
		sep := true // no separator first or twice in a row
		for i := range l {
			if !sep && i < l-1 && rng.IntN(6) == 0 && len(seps) > 0 {
				b.WriteByte(seps[rng.IntN(len(seps))])
				sep = true
				continue
			}
			b.WriteByte(letters[rng.IntN(len(letters))])
			sep = false
		}
		return b.String()
	}
	var out []string
	switch typ {
	case Username:
		out = []string{"alice", "boss", "kristina", "finn.sassy", "pokey-42", "info_desk"}
		for len(out) < n {
			out = append(out, word(3, 24, "._-"))
		}
	case Email:
		out = []string{"alice@example.com", "boss.ness@bücher.de", "kiss+fix@xn--mnchen-3ya.de",
			"info@пример.рф", "postmaster@例え.jp", "o'neil@café.example", "x@straße.de"}
		domains := []string{"example.com", "mail.example.org", "sub.example.co.uk", "bücher.de", "пример.рф",
			"例え.jp", "münchen.de", "café.example", "a1.io", "xn--bcher-kva.ch"}
		for len(out) < n {
			out = append(out, word(1, 20, ".+_-")+"@"+domains[rng.IntN(len(domains))])
		}
	case Phone:
		regions := slices.Sorted(func(yield func(string) bool) {
			for r := range phonenumbers.GetSupportedRegions() {
				if !yield(r) {
					return
				}
			}
		})
		for _, r := range regions {
			for _, kind := range []phonenumbers.PhoneNumberType{phonenumbers.FIXED_LINE, phonenumbers.MOBILE} {
				if num := phonenumbers.GetExampleNumberForType(r, kind); num != nil && len(out) < n {
					out = append(out, phonenumbers.Format(num, phonenumbers.E164))
				}
			}
		}
	}
	return out
}

// TestTransformFamilies applies every transform family to a thousand base
// identifiers. No variant may normalize to an accepted value other than its
// base's canonical value: that would be a second account for one identifier.
func TestTransformFamilies(t *testing.T) {
	n := map[Type]int{Email: 400, Username: 300, Phone: 300}
	if testing.Short() || raceEnabled {
		n = map[Type]int{Email: 40, Username: 30, Phone: 30}
	}
	if len(families) < 20 {
		t.Fatalf("%d transform families, want at least 20", len(families))
	}
	var total, dupAccepted int
	perFamily := map[string]int{}
	for _, typ := range allTypes {
		for _, base := range bases(typ, n[typ]) {
			canon, err := Normalize(typ, base)
			if err != nil {
				t.Fatalf("Normalize(%s, %q) = %v, want a base that is accepted", typ, base, err)
			}
			for _, f := range families {
				if !slices.Contains(f.types, typ) {
					continue
				}
				for _, v := range f.variants(typ, base) {
					total++
					perFamily[f.name]++
					got, err := Normalize(typ, v)
					switch {
					case err == nil && got != canon:
						dupAccepted++
						t.Errorf("%s: Normalize(%s, %q) = %q, want %q (the base %q) or an error", f.name, typ, v, got, canon, base)
					case err != nil && f.outcome == same:
						t.Errorf("%s: Normalize(%s, %q) = %v, want %q", f.name, typ, v, err, canon)
					case err == nil && f.outcome == refused && v != base:
						t.Errorf("%s: Normalize(%s, %q) = %q, want an error", f.name, typ, v, got)
					}
				}
			}
		}
	}
	for _, f := range families {
		if perFamily[f.name] == 0 {
			t.Errorf("family %q made no variants, want some", f.name)
		}
	}
	t.Logf("transform_families=%d variants=%d dup_canonical_accepted=%d", len(families), total, dupAccepted)
}

// TestEmailPolicyVariants pins the policy for the e-mail variants that only
// a provider can judge: tags and dots make different addresses.
func TestEmailPolicyVariants(t *testing.T) {
	seen := map[string]string{}
	for _, in := range []string{"ab@example.com", "a.b@example.com", "ab+tag@example.com", "a.b+tag@example.com", "ab+@example.com"} {
		got, err := Normalize(Email, in)
		if err != nil {
			t.Fatalf("Normalize(Email, %q) = %v, want it accepted", in, err)
		}
		if prev, ok := seen[got]; ok {
			t.Errorf("Normalize(Email, %q) = Normalize(Email, %q) = %q, want different addresses", in, prev, got)
		}
		seen[got] = in
	}
}
