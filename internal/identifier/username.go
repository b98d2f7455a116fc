package identifier

import (
	"strings"

	"golang.org/x/text/unicode/norm"

	"github.com/atriumid/atrium/internal/ids"
)

// Length limits of a username, in characters (which are bytes, since the
// canonical form is ASCII).
const (
	minUsername = 3
	maxUsername = 32
)

// username applies the username rules to a cleaned value.
func username(s string) (string, string) {
	s = norm.NFKC.String(fold(norm.NFKC.String(s)))
	if len(s) < minUsername || len(s) > maxUsername {
		return "", "must be 3 to 32 characters long"
	}
	if reason := usernameAlphabet(s); reason != "" {
		return "", reason
	}
	if reason := usernameShape(s); reason != "" {
		return "", reason
	}
	return s, ""
}

// usernameAlphabet checks the characters of a folded username: a-z, 0-9 and
// single separators between them.
func usernameAlphabet(s string) string {
	prevSep := true // a separator may not come first
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', '0' <= c && c <= '9':
			prevSep = false
		case c == '_' || c == '-' || c == '.':
			if prevSep {
				return "must start with a letter or digit and may not have two separators in a row"
			}
			prevSep = true
		default:
			return "may hold only the letters a-z, digits and the separators _ - ."
		}
	}
	if prevSep {
		return "must end with a letter or digit"
	}
	return ""
}

// usernameShape refuses usernames that could be taken for another
// identifier type or an account ID.
func usernameShape(s string) string {
	if rest, ok := strings.CutPrefix(s, "0x"); ok && strings.Trim(rest, "0123456789abcdef") == "" {
		return "may not look like a wallet address"
	}
	if strings.HasSuffix(s, ".eth") {
		return "may not look like an ENS name"
	}
	if _, _, err := ids.Parse(s); err == nil {
		return "may not look like an account ID"
	}
	return ""
}

// skeletonMap maps each character of the username alphabet that has a
// confusable prototype to it. A Replacer is safe for concurrent use.
var skeletonMap = strings.NewReplacer("m", "rn", "1", "l", "0", "o")

// Skeleton returns the confusable skeleton of a canonical username. Two
// usernames with the same skeleton look alike, such as "rnike1" and "mikel".
//
// It is the UTS #39 skeleton restricted to the username alphabet, where the
// confusables data maps "m" to "rn" and the digit 1 to the letter l, widened
// so that the digit 0 is the letter o: UTS #39 maps 0 to capital O, and
// usernames are lower case. Cross-script lookalikes need no mapping because
// Normalize refuses every character outside ASCII.
//
// The account store can keep the skeleton in a unique index to refuse a
// lookalike of an existing username, or use it to flag one for review. A
// skeleton is for comparison only, never for display or lookup, and is
// defined only for values that Normalize accepted as usernames.
func Skeleton(username string) string { return skeletonMap.Replace(username) }
