package identifier

import (
	"fmt"
	"regexp"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/nyaruka/phonenumbers"
	"pgregory.net/rapid"

	"github.com/atriumid/atrium/internal/fault"
)

// The shapes every canonical value must have.
var (
	canonicalPhone    = regexp.MustCompile(`^\+[1-9][0-9]{1,14}$`)
	canonicalUsername = regexp.MustCompile(`^[a-z0-9]+([._-][a-z0-9]+)*$`)
	canonicalEmail    = regexp.MustCompile("^[a-z0-9!#$%&'*+/=?^_`{|}~-]+(\\.[a-z0-9!#$%&'*+/=?^_`{|}~-]+)*" +
		`@([a-z0-9]([a-z0-9-]*[a-z0-9])?\.)+[a-z0-9]([a-z0-9-]*[a-z0-9])?$`)
)

// checkNormalize normalizes in and checks the result: an error is a
// fault.Invalid with one violation; an accepted value has its type's shape
// and normalizes to itself. It returns a description of the first broken
// property, or "".
func checkNormalize(typ Type, in string) string {
	c, err := Normalize(typ, in)
	if err != nil {
		if _, vs := fault.PublicOf(err); !fault.Is(err, fault.Invalid) || len(vs) != 1 {
			return fmt.Sprintf("Normalize(%s, %q) = %v, want a fault.Invalid error with one violation", typ, in, err)
		}
		return ""
	}
	if reason := canonicalRule(typ, c); reason != "" {
		return fmt.Sprintf("Normalize(%s, %q) = %q, which %s", typ, in, c, reason)
	}
	again, err := Normalize(typ, c)
	if err != nil || again != c {
		return fmt.Sprintf("Normalize(%s, %q) = %q, %v, want %q (Normalize(%s, %q))", typ, c, again, err, c, typ, in)
	}
	return ""
}

// canonicalRule returns why c is not a canonical value of typ, or "".
func canonicalRule(typ Type, c string) string {
	if !utf8.ValidString(c) {
		return "is not UTF-8"
	}
	hidden := func(r rune) bool {
		return Ignorable(r) || unicode.Is(unicode.Cf, r) || unicode.IsSpace(r) || unicode.IsControl(r)
	}
	if strings.IndexFunc(c, hidden) >= 0 {
		return "holds an invisible, format, space or control character"
	}
	switch typ {
	case Email:
		at := strings.LastIndexByte(c, '@')
		if !canonicalEmail.MatchString(c) || len(c) > maxEmail || at > maxLocal || len(c)-at-1 > maxDomain {
			return "is not a canonical e-mail address"
		}
	case Phone:
		if !canonicalPhone.MatchString(c) {
			return "is not an E.164 number"
		}
	case Username:
		if !canonicalUsername.MatchString(c) || len(c) < minUsername || len(c) > maxUsername {
			return "is not a canonical username"
		}
	}
	return ""
}

// interesting are runes that normalization treats specially.
var interesting = []rune{
	'a', 'Z', 'i', 'I', 's', 'k', '0', '9', '@', '+', '.', '_', '-', ' ', '\t', '\r', '\n', '"', '(', ')', '[', ']',
	'\\', '\'', '/', ',', ';', '<', '>', '\x00', '\x7f', '\u0085', '\u00a0', '\u00ad', '\u00df', '\u0130', '\u0131',
	'\u017f', '\u0301', '\u0307', '\u034f', '\u0430', '\u03bf', '\u0663', '\u0967', '\u180e', '\u1e9e', '\u200b',
	'\u200c', '\u200d', '\u200e', '\u202e', '\u2028', '\u2060', '\u212a', '\u2460', '\u24d0', '\u3002', '\u3164',
	'\ufb01', '\ufe0f', '\ufeff', '\uff0b', '\uff0e', '\uff20', '\uff41', '\uff11', '\uffa0', '\U0001d41a',
	'\U000e0041', '\U000e0100', 'ü', 'ß', 'é', '例', 'п', utf8.RuneError,
}

// rawValue generates raw input: arbitrary strings, strings of interesting
// runes, and near-valid values of each type.
var rawValue = rapid.OneOf(
	rapid.String(),
	rapid.StringOf(rapid.SampledFrom(interesting)),
	rapid.StringMatching(`\+[1-9][0-9 ()-]{6,16}`),
	rapid.StringMatching(`[a-zA-Z0-9][a-zA-Z0-9._-]{1,30}`),
	rapid.Deferred(func() *rapid.Generator[string] { return validValue[Email] }),
	rapid.Deferred(func() *rapid.Generator[string] { return validValue[Phone] }),
	rapid.Deferred(func() *rapid.Generator[string] { return validValue[Username] }),
)

// phoneExamples are valid numbers from the numbering-plan examples.
var phoneExamples = bases(Phone, 500)

// validValue generates values of each type that are mostly accepted.
var validValue = map[Type]*rapid.Generator[string]{
	Email: rapid.Custom(func(t *rapid.T) string {
		return rapid.StringMatching(`[a-zA-Z0-9]{1,8}([._+-][a-zA-Z0-9]{1,8}){0,2}`).Draw(t, "local") + "@" +
			rapid.SampledFrom([]string{"example.com", "Bücher.de", "xn--bcher-kva.de", "пример.рф", "a.b.c.d.io"}).Draw(t, "domain")
	}),
	Username: rapid.StringMatching(`[a-zA-Z0-9]{2,10}([._-][a-zA-Z0-9]{1,8}){0,2}`),
	Phone: rapid.Custom(func(t *rapid.T) string {
		s := rapid.SampledFrom(phoneExamples).Draw(t, "phone")
		if num, err := phonenumbers.Parse(s, "ZZ"); err == nil && rapid.Bool().Draw(t, "international") {
			return phonenumbers.Format(num, phonenumbers.INTERNATIONAL)
		}
		return s
	}),
}

// insertRunes inserts rapid-chosen interesting runes into s.
func insertRunes(t *rapid.T, s string, runes []rune) string {
	rs := []rune(s)
	for range rapid.IntRange(0, 4).Draw(t, "inserts") {
		i := rapid.IntRange(0, len(rs)).Draw(t, "at")
		r := rapid.SampledFrom(runes).Draw(t, "rune")
		rs = append(rs[:i], append([]rune{r}, rs[i:]...)...)
	}
	return string(rs)
}

func TestNormalizeIdempotent(t *testing.T) {
	for _, typ := range allTypes {
		t.Run(string(typ), func(t *testing.T) {
			rapid.Check(t, func(t *rapid.T) {
				in := rawValue.Draw(t, "in")
				if rapid.Bool().Draw(t, "mix") {
					in = insertRunes(t, in, interesting)
				}
				if msg := checkNormalize(typ, in); msg != "" {
					t.Fatal(msg)
				}
			})
		})
	}
}

// TestNormalizeInvisibleAndCase checks that inserting invisible characters,
// changing case and adding surrounding space never change an accepted
// value's canonical form.
func TestNormalizeInvisibleAndCase(t *testing.T) {
	invisible := []rune{'\u00ad', '\u034f', '\u180e', '\u200b', '\u200c', '\u200d', '\u200e', '\u202e', '\u2060',
		'\u3164', '\ufe0f', '\ufeff', '\uffa0', '\U000e0041', '\U000e0100'}
	for _, typ := range allTypes {
		t.Run(string(typ), func(t *testing.T) {
			rapid.Check(t, func(t *rapid.T) {
				in := validValue[typ].Draw(t, "in")
				c, err := Normalize(typ, in)
				if err != nil {
					t.Skip("not an identifier")
				}
				v := insertRunes(t, in, invisible)
				if rapid.Bool().Draw(t, "upper") {
					v = strings.ToUpper(v)
				}
				v = " " + v + "\t"
				if got, err := Normalize(typ, v); err != nil || got != c {
					t.Fatalf("Normalize(%s, %q) = %q, %v, want %q", typ, v, got, err, c)
				}
			})
		})
	}
}

func TestSkeletonIdempotent(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		u, err := Normalize(Username, validValue[Username].Draw(t, "username"))
		if err != nil {
			t.Skip("not a username")
		}
		if s := Skeleton(u); Skeleton(s) != s {
			t.Fatalf("Skeleton(%q) = %q, want %q (Skeleton(%q))", s, Skeleton(s), s, u)
		}
	})
}
