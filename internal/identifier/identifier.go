package identifier

import (
	"errors"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/atriumid/atrium/internal/fault"
)

// Type names an identifier type.
type Type string

// The identifier types.
const (
	Email    Type = "email"
	Phone    Type = "phone"
	Username Type = "username"
	Wallet   Type = "wallet"
	ENS      Type = "ens"
)

// Types returns every identifier type, in a fixed order.
func Types() []Type { return []Type{Email, Phone, Username, Wallet, ENS} }

// MaxInput is the longest raw value accepted for any type, in bytes. It is
// checked before any other work. It is four times the longest canonical
// e-mail address (254 bytes), which leaves room for fullwidth characters,
// stray invisible characters and phone formatting, and it bounds the work an
// ENS name can cost.
const MaxInput = 1024

const op = "identifier.Normalize"

// Func normalizes one raw value of one identifier type. It returns the
// canonical form or a fault.Invalid error whose message does not repeat the
// value.
type Func func(value string) (string, error)

// Normalizers normalizes identifiers of every type. E-mail, phone and
// username rules are built in and cannot be replaced; Wallet and ENS are
// supplied by the package that owns Ethereum names, and when nil those types
// are refused as not supported yet.
//
// Normalizers is a plain value built once by the composition root and never
// changed afterwards, so it needs no lock and there is no global registry to
// set at start-up. The zero value is ready to use.
type Normalizers struct {
	Wallet Func // normalizes CAIP-10 account IDs; nil refuses wallets
	ENS    Func // normalizes ENS names (ENSIP-15); nil refuses ENS names
}

// Normalize returns the canonical form of value as an identifier of type
// typ, using the built-in rules and no wallet or ENS normalizer. See the
// package documentation for the rules. It returns a fault.Invalid error when
// value breaks a rule or typ is unknown or not supported.
func Normalize(typ Type, value string) (string, error) {
	return Normalizers{}.Normalize(typ, value)
}

// Normalize returns the canonical form of value as an identifier of type
// typ. It returns a fault.Invalid error when value breaks a rule of its type,
// when typ is unknown, or when typ has no normalizer; an error from a
// plugged-in normalizer keeps its kind.
func (n Normalizers) Normalize(typ Type, value string) (string, error) {
	fn, err := n.lookup(typ)
	if err != nil {
		return "", err
	}
	if len(value) > MaxInput {
		return "", invalid(typ, "is longer than 1024 bytes")
	}
	canon, err := fn(value)
	if err != nil {
		return "", err
	}
	// The unique index is only as good as idempotence: a canonical value that
	// normalized to something else would let a second account in through it.
	again, err := fn(canon)
	if err != nil || again != canon {
		return "", invalid(typ, "is not stable under normalization")
	}
	return canon, nil
}

// lookup returns the normalizer of typ, wrapped in the common checks.
func (n Normalizers) lookup(typ Type) (Func, error) {
	switch typ {
	case Email:
		return textual(Email, email), nil
	case Phone:
		return textual(Phone, phone), nil
	case Username:
		return textual(Username, username), nil
	case Wallet:
		return plugged(Wallet, n.Wallet)
	case ENS:
		return plugged(ENS, n.ENS)
	}
	return nil, fault.Invalidf(op, []fault.Violation{{Field: "type", Reason: "unknown identifier type"}},
		"unknown identifier type; known types are email, phone, username, wallet and ens")
}

// textual applies the common rules with invisible-character removal, then
// the type's own rules.
func textual(typ Type, rules func(string) (string, string)) Func {
	return func(value string) (string, error) {
		s, reason := clean(value, true)
		if reason == "" {
			s, reason = rules(s)
		}
		if reason != "" {
			return "", invalid(typ, reason)
		}
		return s, nil
	}
}

// plugged applies the common rules, without invisible-character removal,
// then fn.
func plugged(typ Type, fn Func) (Func, error) {
	if fn == nil {
		return nil, fault.Invalidf(op, []fault.Violation{{Field: "type", Reason: "not supported yet"}},
			"identifier type not supported yet")
	}
	return func(value string) (string, error) {
		s, reason := clean(value, false)
		if reason != "" {
			return "", invalid(typ, reason)
		}
		canon, err := fn(s)
		if fe, ok := errors.AsType[*fault.Error](err); ok {
			return "", fault.Wrap(op, fe.Kind, fe)
		}
		if err != nil {
			return "", &fault.Error{Op: op, Kind: fault.Invalid, Msg: "invalid " + string(typ),
				Violations: []fault.Violation{{Field: "value", Reason: "is not a valid " + string(typ)}}, Err: err}
		}
		if canon == "" {
			return "", invalid(typ, "is empty")
		}
		return canon, nil
	}, nil
}

// clean applies the rules common to every type: valid UTF-8, invisible
// characters removed (when strip is set), surrounding white space trimmed,
// no control characters, not empty. It returns the cleaned value, or a reason
// for refusing it.
func clean(value string, strip bool) (string, string) {
	if !utf8.ValidString(value) {
		return "", "is not valid UTF-8"
	}
	if strip {
		value = strings.Map(func(r rune) rune {
			if Ignorable(r) {
				return -1
			}
			return r
		}, value)
	}
	value = strings.TrimFunc(value, unicode.IsSpace)
	if strings.IndexFunc(value, unicode.IsControl) >= 0 {
		return "", "contains a control character"
	}
	if value == "" {
		return "", "is empty"
	}
	return value, ""
}

// Ignorable reports whether r is a Default_Ignorable_Code_Point: a character
// that is invisible when rendered, such as U+200B ZERO WIDTH SPACE, U+00AD
// SOFT HYPHEN or U+FEFF BYTE ORDER MARK. The set follows the derivation in
// Unicode's DerivedCoreProperties.txt: Other_Default_Ignorable_Code_Point,
// format characters (Cf) and variation selectors, minus white space, the
// interlinear annotation characters, the Egyptian hieroglyph format
// characters and the prepended concatenation marks, which are visible.
func Ignorable(r rune) bool {
	if r < 0xAD {
		return false // no ASCII or Latin-1 character below the soft hyphen is ignorable
	}
	switch {
	case unicode.Is(unicode.White_Space, r),
		0xFFF9 <= r && r <= 0xFFFB,
		0x13430 <= r && r <= 0x1343F,
		unicode.Is(unicode.Prepended_Concatenation_Mark, r):
		return false
	}
	return unicode.In(r, unicode.Other_Default_Ignorable_Code_Point, unicode.Cf, unicode.Variation_Selector)
}

// invalid returns the error for a value of type typ that breaks a rule. The
// message names the type and the rule, never the value.
func invalid(typ Type, reason string) error {
	return fault.Invalidf(op, []fault.Violation{{Field: "value", Reason: reason}},
		"invalid %s: the value %s", typ, reason)
}
