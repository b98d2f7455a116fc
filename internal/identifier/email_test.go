package identifier

import (
	"strings"
	"testing"
)

func TestNormalizeEmail(t *testing.T) {
	local64 := strings.Repeat("a", 64)
	label63 := strings.Repeat("b", 63)
	long := local64 + "@" + label63 + "." + label63 + "." + strings.Repeat("c", 61) // 254 bytes
	runCases(t, Email, []normCase{
		{"alice@example.com", "alice@example.com"},
		{"Alice@Example.COM", "alice@example.com"},
		{"  alice@example.com\r\n", "alice@example.com"},
		{"ALICE@EXAMPLE.COM", "alice@example.com"},
		{"ａｌｉｃｅ＠ｅｘａｍｐｌｅ．ｃｏｍ", "alice@example.com"},
		{"al\u200bice@exa\u00admple.com", "alice@example.com"},
		{"\ufeffalice@example.com", "alice@example.com"},
		{"a+tag@example.com", "a+tag@example.com"},
		{"a.b@example.com", "a.b@example.com"},
		{"ab@example.com", "ab@example.com"},
		{"o'brien@example.ie", "o'brien@example.ie"},
		{"!#$%&'*+-/=?^_`{|}~@example.com", "!#$%&'*+-/=?^_`{|}~@example.com"},
		{"Straße@example.de", "strasse@example.de"},
		{"\u212Aelvin@example.com", "kelvin@example.com"}, // KELVIN SIGN
		{"user@Bücher.DE", "user@xn--bcher-kva.de"},
		{"user@xn--bcher-kva.de", "user@xn--bcher-kva.de"},
		{"user@XN--BCHER-KVA.DE", "user@xn--bcher-kva.de"},
		{"user@bu\u0308cher.de", "user@xn--bcher-kva.de"}, // NFD
		{"user@example\u3002com", "user@example.com"},     // ideographic full stop
		{"user@straße.de", "user@xn--strae-oqa.de"},       // non-transitional: ß is kept
		{"user@sub.example.co.uk", "user@sub.example.co.uk"},
		{"user@123.example", "user@123.example"},
		{long, long},

		{"alice", ""},
		{"@example.com", ""},
		{"alice@", ""},
		{"a@b@example.com", ""},
		{`"alice"@example.com`, ""},
		{`"a@b"@example.com`, ""},
		{"alice(comment)@example.com", ""},
		{"alice@(comment)example.com", ""},
		{"al ice@example.com", ""},
		{"alice@exa mple.com", ""},
		{"alice\r\n@example.com", ""},
		{"alice@example.com\r\nBcc: eve@example.com", ""},
		{"alice@example.com>\r\nRCPT TO:<eve@example.com", ""},
		{"<alice@example.com>", ""},
		{"alice@example.com,eve@example.com", ""},
		{"alice;eve@example.com", ""},
		{"a\\lice@example.com", ""},
		{".alice@example.com", ""},
		{"alice.@example.com", ""},
		{"al..ice@example.com", ""},
		{"аlice@example.com", ""}, // Cyrillic а
		{"ınfo@example.com", ""},  // dotless i
		{"İnfo@example.com", ""},  // folds to i + combining dot
		{"josé@example.com", ""},  // internationalized local part
		{"用户@例子.广告", ""},
		{"alice@localhost", ""},
		{"alice@example", ""},
		{"alice@example.com.", ""},
		{"alice@.example.com", ""},
		{"alice@example..com", ""},
		{"alice@xn--.com", ""},
		{"alice@-example.com", ""},
		{"alice@example-.com", ""},
		{"alice@ex_ample.com", ""},
		{"alice@1.2.3.4", ""},
		{"alice@[1.2.3.4]", ""},
		{"alice@[IPv6:::1]", ""},
		{"alice@xn--a.com", ""},     // punycode of a control character
		{"alice@xn--u-ccb.com", ""}, // punycode of a decomposed ü
		{strings.Repeat("a", 65) + "@example.com", ""},
		{"a@" + strings.Repeat("b", 64) + ".com", ""},
		{long + "c", ""},
	})
}
