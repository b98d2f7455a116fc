package identifier

import (
	"strings"
	"unicode"

	"github.com/nyaruka/phonenumbers"
	"golang.org/x/text/unicode/norm"
)

// maxPhoneDigits bounds the digits handed to the parser: 15 for E.164, plus
// room for a trunk prefix written after the country code.
const maxPhoneDigits = 17

// phone applies the phone rules to a cleaned value.
func phone(s string) (string, string) {
	s = norm.NFKC.String(s)
	if s[0] != '+' {
		return "", "must start with + and a country code"
	}
	var b strings.Builder
	b.WriteByte('+')
	digits := 0
	for _, r := range s[1:] {
		switch {
		case unicode.IsDigit(r):
			b.WriteByte('0' + digitValue(r))
			digits++
		case strings.ContainsRune(" -.()/", r):
			b.WriteRune(r)
		default:
			return "", "may hold only digits and the separators space - . ( ) / after the +"
		}
	}
	if digits > maxPhoneDigits {
		return "", "has too many digits"
	}
	num, ok := parsePhone(b.String())
	if !ok {
		return "", "is not a valid international phone number"
	}
	if !phonenumbers.IsValidNumber(num) {
		return "", "is not a valid phone number"
	}
	e164 := phonenumbers.Format(num, phonenumbers.E164)
	if len(e164) < 2 || len(e164) > 16 || strings.Trim(e164[1:], "0123456789") != "" {
		return "", "is not a valid phone number"
	}
	return e164, ""
}

// parsePhone parses an international number. The parser is third-party code
// reached by untrusted input, so a panic in it is turned into a refusal
// rather than a crash.
func parsePhone(s string) (num *phonenumbers.PhoneNumber, ok bool) {
	defer func() {
		if recover() != nil {
			num, ok = nil, false
		}
	}()
	num, err := phonenumbers.Parse(s, "ZZ")
	if err != nil || num.GetExtension() != "" {
		return nil, false
	}
	return num, true
}

// digitValue returns the value of the decimal digit r (Unicode category Nd).
// Unicode encodes every set of decimal digits as a contiguous run from 0 to
// 9, so within a range of the Nd table the value is the offset modulo ten.
// Converting here, rather than leaving it to the parser, makes every script's
// digits mean the same number.
func digitValue(r rune) byte {
	for _, rg := range unicode.Nd.R16 {
		if rune(rg.Lo) <= r && r <= rune(rg.Hi) {
			return byte((r - rune(rg.Lo)) % 10)
		}
	}
	for _, rg := range unicode.Nd.R32 {
		if rune(rg.Lo) <= r && r <= rune(rg.Hi) {
			return byte((r - rune(rg.Lo)) % 10)
		}
	}
	return 0 // unreachable for a digit
}
