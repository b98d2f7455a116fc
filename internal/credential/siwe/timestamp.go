package siwe

import (
	"strings"
	"time"

	"github.com/atriumid/atrium/internal/fault"
)

// Timestamp is an RFC 3339 date-time as written in a message. It keeps its
// text, so that a parsed message serialises byte for byte (time.Time would
// lose "2021-09-30T16:25:24.000Z" versus "…24Z", or the offset). The zero
// Timestamp means "absent".
type Timestamp struct {
	t    time.Time
	text string
}

// ParseTimestamp parses an RFC 3339 date-time ("2021-09-30T16:25:24.000Z",
// "…24-02:00"; "T" and "Z" may be lower case). A leap second (":60") is
// rejected, as time.Time cannot hold it. The error is fault.Invalid.
func ParseTimestamp(s string) (Timestamp, error) {
	const op = "siwe.ParseTimestamp"
	if len(s) > maxTimestampLen || !rfc3339Syntax(s) {
		return Timestamp{}, fault.E(op, fault.Invalid, "time must be an RFC 3339 date-time")
	}
	norm := strings.ToUpper(s) // time.Parse wants "T" and "Z"
	t, err := time.Parse(time.RFC3339Nano, norm)
	if err != nil {
		return Timestamp{}, fault.E(op, fault.Invalid, "time is not a valid date-time")
	}
	return Timestamp{t: t, text: s}, nil
}

// NewTimestamp returns t, truncated to the millisecond, in UTC, written like
// "2021-09-30T16:25:24.000Z". Years outside 0000–9999 give a Timestamp that
// Validate rejects.
func NewTimestamp(t time.Time) Timestamp {
	t = t.UTC().Truncate(time.Millisecond)
	return Timestamp{t: t, text: t.Format("2006-01-02T15:04:05.000Z")}
}

// Time returns the instant ts names.
func (ts Timestamp) Time() time.Time { return ts.t }

// String returns the text of ts as it appears in the message.
func (ts Timestamp) String() string { return ts.text }

// IsZero reports whether ts is absent.
func (ts Timestamp) IsZero() bool { return ts.text == "" }

// valid reports whether ts is a Timestamp that ParseTimestamp could have
// returned, which a hand-made Message might not hold.
func (ts Timestamp) valid() bool {
	p, err := ParseTimestamp(ts.text)
	return err == nil && p.t.Equal(ts.t)
}

// rfc3339Syntax checks the RFC 3339 date-time grammar, with the range of
// each field; time.Parse then checks the day against the month. It is
// stricter than time.Parse, which also takes "," before the fraction and
// offsets such as "+24:00".
func rfc3339Syntax(s string) bool {
	// YYYY-MM-DDTHH:MM:SS, then an optional fraction, then the offset.
	if len(s) < len("2006-01-02T15:04:05Z") {
		return false
	}
	if !num(s[0:4], 0, 9999) || s[4] != '-' || !num(s[5:7], 1, 12) || s[7] != '-' || !num(s[8:10], 1, 31) ||
		(s[10] != 'T' && s[10] != 't') || !num(s[11:13], 0, 23) || s[13] != ':' || !num(s[14:16], 0, 59) ||
		s[16] != ':' || !num(s[17:19], 0, 59) {
		return false
	}
	rest := s[19:]
	if rest[0] == '.' {
		n := 1
		for n < len(rest) && isDigit(rest[n]) {
			n++
		}
		if n == 1 {
			return false
		}
		rest = rest[n:]
	}
	switch {
	case rest == "Z" || rest == "z":
		return true
	case len(rest) == 6 && (rest[0] == '+' || rest[0] == '-'):
		return num(rest[1:3], 0, 23) && rest[3] == ':' && num(rest[4:6], 0, 59)
	}
	return false
}

// num reports whether s is all decimal digits with a value in [lo, hi].
func num(s string, lo, hi int) bool {
	v := 0
	for i := 0; i < len(s); i++ {
		if !isDigit(s[i]) {
			return false
		}
		v = v*10 + int(s[i]-'0')
	}
	return v >= lo && v <= hi
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }
