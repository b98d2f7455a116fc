package password

import (
	"bufio"
	_ "embed"
	"fmt"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"

	"github.com/atriumid/atrium/internal/fault"
)

// Length limits, in Unicode code points of the NFKC form.
const (
	// MinLength is the minimum length of a password that is the only
	// factor (NIST SP 800-63B-4: 15).
	MinLength = 15
	// MinLengthWithMFA is the lowest minimum a policy may set, allowed only
	// when a second factor is enforced (NIST SP 800-63B: 8).
	MinLengthWithMFA = 8
	// MaxLength is the longest password accepted; at least 64 must be
	// (NIST SP 800-63B §5.1.1.2).
	MaxLength = 256
	// MaxBytes caps the raw input in bytes, checked before anything else,
	// so that normalizing and hashing are bounded.
	MaxBytes = 1024
	// minContextWord is the shortest context word that is looked for.
	minContextWord = 4
)

// Policy is what a new password must satisfy. There are no composition
// rules and no expiry (NIST SP 800-63B §5.1.1.2 forbids both).
type Policy struct {
	// MinLength in code points; 15 unless MFAEnforced, never below 8.
	MinLength int
	// MFAEnforced records that every account also has a second factor,
	// which is what allows MinLength below 15.
	MFAEnforced bool
}

// DefaultPolicy is the policy for password-only accounts.
var DefaultPolicy = Policy{MinLength: MinLength}

// Validate checks the policy itself.
func (p Policy) Validate() error {
	switch {
	case p.MinLength < MinLengthWithMFA:
		return fault.E("password.Policy", fault.Invalid, "minimum password length must be at least %d", MinLengthWithMFA)
	case p.MinLength < MinLength && !p.MFAEnforced:
		return fault.E("password.Policy", fault.Invalid, "minimum password length below %d needs MFA enforced", MinLength)
	case p.MinLength > MaxLength:
		return fault.E("password.Policy", fault.Invalid, "minimum password length above the maximum %d", MaxLength)
	}
	return nil
}

// Check reports whether pw may become a password: its length in code
// points (after NFKC) within the policy, not a common password, and not
// built from a context word (the identifier, its parts, the product or
// organisation name). It returns fault.Invalid with a violation on field
// "password", whose reason never repeats the password.
func (p Policy) Check(pw string, context []string) error {
	const op = "password.Check"
	if len(pw) > MaxBytes {
		return tooLong(op)
	}
	if !utf8.ValidString(pw) {
		return violation(op, "must be valid UTF-8")
	}
	n := Normalize(pw)
	length := utf8.RuneCountInString(n)
	switch {
	case length < p.MinLength:
		return violation(op, fmt.Sprintf("must be at least %d characters", p.MinLength))
	case length > MaxLength:
		return tooLong(op)
	}
	lower := strings.ToLower(n)
	if Common(lower) || Common(undecorated(lower)) {
		return violation(op, "is a commonly used password")
	}
	if fromContext(lower, context) {
		return violation(op, "must not be built from the identifier or the service name")
	}
	return nil
}

func violation(op, reason string) error {
	return fault.Invalidf(op, []fault.Violation{{Field: "password", Reason: reason}}, "password not accepted: %s", reason)
}

func tooLong(op string) error {
	reason := fmt.Sprintf("must be at most %d characters", MaxLength)
	return fault.Invalidf(op, []fault.Violation{{Field: "password", Reason: reason}}, "password not accepted: %s", reason)
}

// fromContext reports whether lower (a lower-cased, normalized password)
// is a trivial derivative of a context word: what is left after removing
// every context word is shorter than MinLengthWithMFA code points, or is
// itself a common password.
func fromContext(lower string, context []string) bool {
	rest := lower
	found := false
	for _, w := range contextWords(context) {
		if strings.Contains(rest, w) {
			rest = strings.ReplaceAll(rest, w, "")
			found = true
		}
	}
	if !found {
		return false
	}
	return utf8.RuneCountInString(rest) < MinLengthWithMFA || Common(rest)
}

// contextWords splits context values into the words looked for: each
// whole value, the local part of an e-mail address, and every run of
// letters and digits, lower-cased, of at least minContextWord code points.
func contextWords(context []string) []string {
	var out []string
	add := func(w string) {
		if utf8.RuneCountInString(w) >= minContextWord {
			out = append(out, w)
		}
	}
	for _, c := range context {
		c = strings.ToLower(Normalize(c))
		add(c)
		if local, _, ok := strings.Cut(c, "@"); ok {
			add(local)
		}
		for _, f := range strings.FieldsFunc(c, func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) }) {
			add(f)
		}
	}
	// Longest first, so that a word is removed before its parts.
	for i := 1; i < len(out); i++ {
		for j := i; j > 0 && len(out[j]) > len(out[j-1]); j-- {
			out[j], out[j-1] = out[j-1], out[j]
		}
	}
	return out
}

// undecorated returns pw without the digits, punctuation and spaces at
// its ends, the usual decoration of a common password ("password1234567",
// "!!qwerty2024!!").
func undecorated(pw string) string {
	return strings.TrimFunc(pw, func(r rune) bool { return !unicode.IsLetter(r) })
}

//go:embed blocklist/common.txt
var commonText string

var common = sync.OnceValue(func() map[string]struct{} {
	m := make(map[string]struct{}, 48000)
	sc := bufio.NewScanner(strings.NewReader(commonText))
	for sc.Scan() {
		m[sc.Text()] = struct{}{}
	}
	return m
})

// Common reports whether pw, compared without case, is on the embedded
// list of common passwords (see blocklist/README.md for its origin).
func Common(pw string) bool {
	_, ok := common()[strings.ToLower(Normalize(pw))]
	return ok
}
