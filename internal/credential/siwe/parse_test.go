package siwe

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/atriumid/atrium/internal/fault"
	"github.com/atriumid/atrium/internal/testvectors"
)

func TestParsePositiveVectors(t *testing.T) {
	var cases map[string]struct {
		Message string `json:"message"`
		Fields  fields `json:"fields"`
	}
	testvectors.Decode(t, "siwe/parsing_positive.json", &cases)
	if len(cases) != 19 {
		t.Fatalf("read %d positive parsing vectors, want 19", len(cases))
	}
	for name, c := range cases {
		got, err := Parse(c.Message)
		if err != nil {
			t.Errorf("Parse(%s) = %v", name, err)
			continue
		}
		want, err := c.Fields.message()
		if err != nil {
			t.Errorf("%s: building from fields = %v", name, err)
			continue
		}
		if diff := cmp.Diff(want, got, cmpTimestamp); diff != "" {
			t.Errorf("Parse(%s) mismatch (-want +got):\n%s", name, diff)
		}
		if s := want.String(); s != c.Message {
			t.Errorf("%s: String() = %q, want %q", name, s, c.Message)
		}
	}
}

func TestParseNegativeVectors(t *testing.T) {
	var cases map[string]string
	testvectors.Decode(t, "siwe/parsing_negative.json", &cases)
	if len(cases) != 29 {
		t.Fatalf("read %d negative parsing vectors, want 29", len(cases))
	}
	for name, text := range cases {
		if m, err := Parse(text); err == nil || !fault.Is(err, fault.Invalid) {
			t.Errorf("Parse(%s) = %v, %v; want an Invalid error", name, m, err)
		}
	}
}

func TestBuildNegativeVectors(t *testing.T) {
	var cases map[string]fields
	testvectors.Decode(t, "siwe/parsing_negative_objects.json", &cases)
	if len(cases) != 18 {
		t.Fatalf("read %d negative object vectors, want 18", len(cases))
	}
	for name, f := range cases {
		if m, err := f.message(); err == nil || !fault.Is(err, fault.Invalid) {
			t.Errorf("building %s = %v, %v; want an Invalid error", name, m, err)
		}
	}
}

// full is a message with every optional term, in the ABNF's order.
const full = `https://example.com:8443 wants you to sign in with your Ethereum account:
0xC02aaA39b223FE8D0A0e5C4F27eAD9083C756Cc2

I accept the ExampleOrg Terms of Service: https://example.com/tos

URI: https://example.com:8443/login?next=%2Fhome#top
Version: 1
Chain ID: 137
Nonce: Nf3aBx92kLq07ZpT
Issued At: 2026-11-26T18:00:00.123+01:00
Expiration Time: 2026-11-26T18:10:00Z
Not Before: 2026-11-26t16:59:00z
Request ID: req-42_a.b~c!$&'()*+,;=:@%20
Resources:
- ipfs://bafybeiemxf5abjwjbikoz4mc3a3dla6ual3jsgpdr4cjr3oz3evfyavhwq/
- https://example.com/my-web2-claim.json
- urn:uuid:6e8bc430-9c3a-11d9-9669-0800200c9a66`

func TestParseOptionalTerms(t *testing.T) {
	m, err := Parse(full)
	if err != nil {
		t.Fatalf("Parse(full) = %v", err)
	}
	ts := func(s string) Timestamp {
		v, err := ParseTimestamp(s)
		if err != nil {
			t.Fatalf("ParseTimestamp(%q) = %v", s, err)
		}
		return v
	}
	want := &Message{
		Scheme: "https", Domain: "example.com:8443", Address: m.Address,
		Statement: "I accept the ExampleOrg Terms of Service: https://example.com/tos",
		URI:       "https://example.com:8443/login?next=%2Fhome#top", Version: "1", ChainID: 137,
		Nonce: "Nf3aBx92kLq07ZpT", IssuedAt: ts("2026-11-26T18:00:00.123+01:00"),
		ExpirationTime: ts("2026-11-26T18:10:00Z"), NotBefore: ts("2026-11-26t16:59:00z"),
		RequestID: "req-42_a.b~c!$&'()*+,;=:@%20",
		Resources: []string{
			"ipfs://bafybeiemxf5abjwjbikoz4mc3a3dla6ual3jsgpdr4cjr3oz3evfyavhwq/",
			"https://example.com/my-web2-claim.json",
			"urn:uuid:6e8bc430-9c3a-11d9-9669-0800200c9a66",
		},
	}
	if diff := cmp.Diff(want, m, cmpTimestamp); diff != "" {
		t.Errorf("Parse(full) mismatch (-want +got):\n%s", diff)
	}
	if m.Address.String() != "0xC02aaA39b223FE8D0A0e5C4F27eAD9083C756Cc2" {
		t.Errorf("Parse(full).Address = %s", m.Address)
	}
	if got := m.NotBefore.Time().UTC().Format("15:04:05"); got != "16:59:00" {
		t.Errorf("NotBefore = %s, want 16:59:00 UTC", got)
	}
	if got := m.IssuedAt.Time().UTC().Format("15:04:05.000"); got != "17:00:00.123" {
		t.Errorf("IssuedAt = %s, want 17:00:00.123 UTC", got)
	}
	// Each optional term alone, and combinations, round-trip.
	lines := strings.Split(full, "\n")
	head := strings.Join(lines[:10], "\n")
	for _, tail := range [][]string{
		nil,
		{lines[10]},
		{lines[11]},
		{lines[12]},
		{lines[13], lines[14]},
		{lines[10], lines[12]},
		{lines[11], lines[13], lines[16]},
	} {
		text := strings.Join(append([]string{head}, tail...), "\n")
		m, err := Parse(text)
		if err != nil {
			t.Errorf("Parse(%q) = %v", tail, err)
			continue
		}
		if m.String() != text {
			t.Errorf("Parse(%q).String() = %q, want the input", tail, m.String())
		}
	}
}

func TestParseRejects(t *testing.T) {
	lines := strings.Split(full, "\n")
	with := func(i int, s string) string {
		l := append([]string(nil), lines...)
		l[i] = s
		return strings.Join(l, "\n")
	}
	without := func(i int) string {
		l := append([]string(nil), lines[:i]...)
		return strings.Join(append(l, lines[i+1:]...), "\n")
	}
	for _, c := range []struct{ name, text, field string }{
		{"empty", "", "domain"},
		{"trailing LF", full + "\n", "resources"},
		{"CRLF", strings.ReplaceAll(full, "\n", "\r\n"), "message"},
		{"CR at end", full + "\r", "message"},
		{"tab in statement", with(3, "I accept\tthe terms"), "message"},
		{"non-ASCII statement", with(3, "J’accepte"), "message"},
		{"percent in statement", with(3, "100% sure"), "statement"},
		{"quote in statement", with(3, `say "yes"`), "statement"},
		{"empty statement line", strings.Replace(full, "\n\nI accept the ExampleOrg Terms of Service: https://example.com/tos\n", "\n\n\n", 1), "uri"},
		{"no blank line after statement", without(4), "statement"},
		{"scheme without domain", with(0, "https://"+preamble), "domain"},
		{"empty scheme", with(0, "://example.com"+preamble), "message"},
		{"bad scheme", with(0, "1https://example.com"+preamble), "scheme"},
		{"domain with path", with(0, "example.com/x"+preamble), "domain"},
		{"domain with space", with(0, "exa mple.com"+preamble), "domain"},
		{"domain port not digits", with(0, "example.com:80a"+preamble), "domain"},
		{"domain bad IPv6", with(0, "[::g]"+preamble), "domain"},
		{"domain IPv6 zone", with(0, "[fe80::1%25eth0]"+preamble), "domain"},
		{"domain too long", with(0, strings.Repeat("a", MaxDomainLen)+preamble), "domain"},
		{"preamble case", with(0, "example.com wants you to sign in with your ethereum account:"), "domain"},
		{"address all lower", with(1, strings.ToLower(lines[1])), "address"},
		{"address zero", with(1, "0x0000000000000000000000000000000000000000"), "address"},
		{"URI with space", with(5, "URI: https://example.com/a b"), "uri"},
		{"URI relative", with(5, "URI: /login"), "uri"},
		{"URI bad percent", with(5, "URI: https://example.com/%zz"), "uri"},
		{"URI too long", with(5, "URI: https://example.com/"+strings.Repeat("a", MaxURILen)), "uri"},
		{"version 01", with(6, "Version: 01"), "version"},
		{"chain ID 0", with(7, "Chain ID: 0"), "chainId"},
		{"chain ID leading zero", with(7, "Chain ID: 0137"), "chainId"},
		{"chain ID overflow", with(7, "Chain ID: 18446744073709551616"), "chainId"},
		{"nonce 7 chars", with(8, "Nonce: abcdefg"), "nonce"},
		{"nonce with dash", with(8, "Nonce: abcd-efgh"), "nonce"},
		{"nonce too long", with(8, "Nonce: "+strings.Repeat("a", MaxNonceLen+1)), "nonce"},
		{"issued at no offset", with(9, "Issued At: 2026-11-26T18:00:00"), "issuedAt"},
		{"issued at comma fraction", with(9, "Issued At: 2026-11-26T18:00:00,5Z"), "issuedAt"},
		{"issued at empty fraction", with(9, "Issued At: 2026-11-26T18:00:00.Z"), "issuedAt"},
		{"issued at offset 24h", with(9, "Issued At: 2026-11-26T18:00:00+24:00"), "issuedAt"},
		{"issued at Feb 30", with(9, "Issued At: 2026-02-30T18:00:00Z"), "issuedAt"},
		{"issued at leap second", with(9, "Issued At: 2016-12-31T23:59:60Z"), "issuedAt"},
		{"issued at space", with(9, "Issued At: 2026-11-26 18:00:00Z"), "issuedAt"},
		{"expiration empty", with(10, "Expiration Time: "), "expirationTime"},
		{"request ID empty", with(12, "Request ID: "), "requestId"},
		{"request ID slash", with(12, "Request ID: a/b"), "requestId"},
		{"request ID too long", with(12, "Request ID: "+strings.Repeat("a", MaxRequestIDLen+1)), "requestId"},
		{"resources empty", strings.Join(lines[:14], "\n"), "resources"},
		{"resource without dash", with(14, "https://example.com"), "resources"},
		{"resource bad URI", with(14, "- not a uri"), "resources[0]"},
		{"resources then text", full + "\nmore", "resources"},
		{"unknown term", with(12, "Session ID: abc"), "message"},
		{"duplicate nonce", strings.Replace(full, lines[8], lines[8]+"\n"+lines[8], 1), "issuedAt"},
		{"too many resources", full + strings.Repeat("\n- https://example.com/r", MaxResources), "resources"},
		{"too long", full + strings.Repeat("\n- https://example.com/r", MaxMessageLen/20), "message"},
	} {
		m, err := Parse(c.text)
		if err == nil || !fault.Is(err, fault.Invalid) {
			t.Errorf("Parse(%s) = %v, %v; want an Invalid error", c.name, m, err)
			continue
		}
		if _, vs := fault.PublicOf(err); len(vs) == 0 || vs[0].Field != c.field {
			t.Errorf("Parse(%s) violations = %v, want the first on %s", c.name, vs, c.field)
		}
	}
}

func TestParseAcceptsABNFEdges(t *testing.T) {
	lines := strings.Split(full, "\n")
	with := func(i int, s string) string {
		l := append([]string(nil), lines...)
		l[i] = s
		return strings.Join(l, "\n")
	}
	for _, c := range []struct{ name, text string }{
		{"statement of reserved characters", with(3, ":/?#[]@!$&'()*+,;= -._~")},
		{"domain IPvFuture", with(0, "[v1.fe80::a+en1]"+preamble)},
		{"domain with empty port", with(0, "example.com:"+preamble)},
		{"URI with empty authority", with(5, "URI: file:///etc/hosts")},
		{"URI rootless", with(5, "URI: mailto:user@example.com")},
		{"issued at nanoseconds", with(9, "Issued At: 2026-11-26T18:00:00.123456789123-00:00")},
		{"max chain ID", with(7, "Chain ID: 18446744073709551615")},
	} {
		m, err := Parse(c.text)
		if err != nil {
			t.Errorf("Parse(%s) = %v", c.name, err)
			continue
		}
		if m.String() != c.text {
			t.Errorf("Parse(%s).String() differs from the input", c.name)
		}
	}
}

func TestValidateReportsEveryViolation(t *testing.T) {
	m := &Message{Domain: "a b", Version: "2", Nonce: "short"}
	err := m.Validate()
	fe, ok := err.(*fault.Error)
	if !ok || fe.Kind != fault.Invalid {
		t.Fatalf("Validate() = %v, want *fault.Error of kind Invalid", err)
	}
	var got []string
	for _, v := range fe.Violations {
		got = append(got, v.Field)
	}
	want := []string{"domain", "address", "uri", "version", "chainId", "nonce", "issuedAt"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Validate() violations (-want +got):\n%s", diff)
	}
}

func TestNewTimestamp(t *testing.T) {
	ts := NewTimestamp(mustTime(t, "2026-11-26T19:00:00.123456+01:00"))
	if got, want := ts.String(), "2026-11-26T18:00:00.123Z"; got != want {
		t.Errorf("NewTimestamp().String() = %s, want %s", got, want)
	}
	if !ts.valid() {
		t.Errorf("NewTimestamp() is not valid")
	}
	if far := NewTimestamp(mustTime(t, "9999-12-31T23:59:59Z").AddDate(1, 0, 0)); far.valid() {
		t.Errorf("NewTimestamp(year 10000) = %s is valid, want invalid", far)
	}
}

// FuzzParse checks that whatever Parse accepts serialises to the same bytes
// and parses again to the same message.
func FuzzParse(f *testing.F) {
	f.Add(full)
	var pos map[string]struct {
		Message string `json:"message"`
	}
	if testvectors.Seed(f, "siwe/parsing_positive.json", &pos) {
		for _, c := range pos {
			f.Add(c.Message)
		}
	}
	var neg map[string]string
	if testvectors.Seed(f, "siwe/parsing_negative.json", &neg) {
		for _, text := range neg {
			f.Add(text)
		}
	}
	f.Fuzz(func(t *testing.T, text string) {
		m, err := Parse(text)
		if err != nil {
			if !fault.Is(err, fault.Invalid) {
				t.Fatalf("Parse error kind %v, want Invalid: %v", fault.KindOf(err), err)
			}
			return
		}
		if s := m.String(); s != text {
			t.Fatalf("Parse(%q).String() = %q", text, s)
		}
		if err := m.Validate(); err != nil {
			t.Fatalf("Parse(%q) accepted a message that Validate rejects: %v", text, err)
		}
		again, err := Parse(m.String())
		if err != nil {
			t.Fatalf("Parse(String()) = %v", err)
		}
		if diff := cmp.Diff(m, again, cmpTimestamp); diff != "" {
			t.Fatalf("Parse(String()) differs (-first +second):\n%s", diff)
		}
	})
}
