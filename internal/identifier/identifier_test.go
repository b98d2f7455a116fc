package identifier

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/atriumid/atrium/internal/fault"
)

// wantInvalid fails t unless err is a fault.Invalid error with one violation
// on field and a public message that does not repeat value.
func wantInvalid(t *testing.T, err error, field, value string) {
	t.Helper()
	if !fault.Is(err, fault.Invalid) {
		t.Fatalf("error = %v, want kind %v", err, fault.Invalid)
	}
	msg, vs := fault.PublicOf(err)
	if len(vs) != 1 || vs[0].Field != field {
		t.Errorf("violations = %+v, want one on field %q", vs, field)
	}
	if v := strings.TrimSpace(value); len(v) >= 4 && strings.Contains(msg, v) {
		t.Errorf("public message %q repeats the value", msg)
	}
}

type normCase struct {
	in   string
	want string // "" means Normalize must refuse in
}

// runCases checks Normalize(typ, c.in) for every case.
func runCases(t *testing.T, typ Type, cases []normCase) {
	t.Helper()
	for _, c := range cases {
		got, err := Normalize(typ, c.in)
		if c.want == "" {
			if err == nil {
				t.Errorf("Normalize(%s, %q) = %q, want an error", typ, c.in, got)
				continue
			}
			wantInvalid(t, err, "value", c.in)
			continue
		}
		if err != nil || got != c.want {
			t.Errorf("Normalize(%s, %q) = %q, %v, want %q", typ, c.in, got, err, c.want)
		}
	}
}

func TestNormalizeCommon(t *testing.T) {
	long := strings.Repeat("a", MaxInput-len("@example.com")+1) + "@example.com"
	for _, typ := range []Type{Email, Phone, Username} {
		runCases(t, typ, []normCase{
			{in: ""},
			{in: "   "},
			{in: "\u200b\u200d\ufeff"},
			{in: "\xff\xfe"},
			{in: "ab\x00cd"},
			{in: "ab\x1bcd"},
			{in: "ab\u0085cd"},
			{in: long},
			{in: strings.Repeat("\u200b", MaxInput)},
		})
	}
}

func TestNormalizeMaxInput(t *testing.T) {
	for _, tc := range []struct {
		typ       Type
		canonical string
	}{{Email, "a@example.com"}, {Phone, "+14155552671"}, {Username, "alice"}} {
		in := strings.Repeat(" ", MaxInput-len(tc.canonical)) + tc.canonical
		if got, err := Normalize(tc.typ, in); err != nil || got != tc.canonical {
			t.Errorf("Normalize(%s, %d bytes) = %q, %v, want %q", tc.typ, len(in), got, err, tc.canonical)
		}
		_, err := Normalize(tc.typ, " "+in)
		wantInvalid(t, err, "value", tc.canonical)
	}
}

func TestNormalizeType(t *testing.T) {
	for _, typ := range []Type{"", "Email", "mail", "ens ", Type(strings.Repeat("x", 2000))} {
		_, err := Normalize(typ, "alice@example.com")
		wantInvalid(t, err, "type", "alice@example.com")
		if msg, _ := fault.PublicOf(err); !strings.Contains(msg, "email, phone, username, wallet and ens") {
			t.Errorf("Normalize(%q, …) message = %q, want it to name the known types", typ, msg)
		}
	}
	for _, typ := range []Type{Wallet, ENS} {
		_, err := Normalize(typ, "vitalik.eth")
		wantInvalid(t, err, "type", "vitalik.eth")
		if msg, _ := fault.PublicOf(err); msg != "identifier type not supported yet" {
			t.Errorf("Normalize(%s, …) message = %q, want %q", typ, msg, "identifier type not supported yet")
		}
	}
}

func TestTypes(t *testing.T) {
	want := []Type{Email, Phone, Username, Wallet, ENS}
	if diff := cmp.Diff(Types(), want); diff != "" {
		t.Errorf("Types() mismatch (-got +want):\n%s", diff)
	}
	for _, typ := range Types() {
		if _, err := (Normalizers{}).lookup(typ); typ != Wallet && typ != ENS && err != nil {
			t.Errorf("lookup(%s) = %v, want a normalizer", typ, err)
		}
	}
}

func TestNormalizersPlugged(t *testing.T) {
	var got []string
	n := Normalizers{
		Wallet: func(s string) (string, error) {
			got = append(got, s)
			if s == "bad" {
				return "", errors.New("not an account ID")
			}
			if s == "taken" {
				return "", fault.E("chain.Account", fault.Invalid, "bad checksum")
			}
			return strings.ToLower(s), nil
		},
		ENS: func(s string) (string, error) { return s + "x", nil }, // not idempotent
	}
	if c, err := n.Normalize(Wallet, " \tEIP155:1:0xAB\n"); err != nil || c != "eip155:1:0xab" {
		t.Errorf("Normalize(Wallet, …) = %q, %v, want %q", c, err, "eip155:1:0xab")
	}
	// The plugged-in normalizer sees the trimmed value with invisible
	// characters intact, and then its own result for the stability check.
	if diff := cmp.Diff(got, []string{"EIP155:1:0xAB", "eip155:1:0xab"}); diff != "" {
		t.Errorf("Wallet received (-got +want):\n%s", diff)
	}
	got = nil
	if _, err := n.Normalize(Wallet, "a\u200db"); err != nil || got[0] != "a\u200db" {
		t.Errorf("Normalize(Wallet, zwj) passed %q, %v, want the joiner kept", got, err)
	}
	_, err := n.Normalize(Wallet, "bad")
	wantInvalid(t, err, "value", "bad")
	if !strings.Contains(err.Error(), "not an account ID") {
		t.Errorf("Normalize(Wallet, bad) = %v, want the cause kept for logs", err)
	}
	_, err = n.Normalize(Wallet, "taken")
	if msg, _ := fault.PublicOf(err); msg != "bad checksum" {
		t.Errorf("Normalize(Wallet, taken) message = %q, want the plugged-in message", msg)
	}
	for _, v := range []string{"a\x00b", "\xff", "  "} {
		_, err = n.Normalize(Wallet, v)
		wantInvalid(t, err, "value", v)
	}
	_, err = n.Normalize(ENS, "nick.eth")
	wantInvalid(t, err, "value", "nick.eth")
	if msg, _ := fault.PublicOf(err); !strings.Contains(msg, "not stable") {
		t.Errorf("Normalize(ENS, …) with an unstable normalizer = %q, want a stability refusal", msg)
	}
}

func TestIgnorable(t *testing.T) {
	for _, r := range []rune{0xAD, 0x34F, 0x61C, 0x115F, 0x1160, 0x17B4, 0x180B, 0x180E, 0x180F, 0x200B, 0x200C,
		0x200D, 0x200E, 0x200F, 0x202A, 0x202E, 0x2060, 0x2064, 0x2066, 0x206F, 0x3164, 0xFE00, 0xFE0F, 0xFEFF,
		0xFFA0, 0x1BCA0, 0x1D173, 0xE0001, 0xE0020, 0xE007F, 0xE0100, 0xE01EF, 0xE0FFF} {
		if !Ignorable(r) {
			t.Errorf("Ignorable(%U) = false, want true", r)
		}
	}
	for _, r := range []rune{0, 'a', ' ', 0x7F, 0xA0, 0xAC, 0xAE, 0x300, 0x600, 0x1680, 0x2000, 0x2028, 0x3000,
		0xFFF9, 0xFFFB, 0x110BD, 0x13430, 0x1F600} {
		if Ignorable(r) {
			t.Errorf("Ignorable(%U) = true, want false", r)
		}
	}
}
