package chain

import (
	"strings"
	"testing"

	"github.com/atriumid/atrium/internal/fault"
)

func TestParseAccountID(t *testing.T) {
	const addr = "0xAb5801a7D398351b8bE11C439e05C5B3259aeC9B"
	a, _ := ParseAddress(addr)
	for _, c := range []struct {
		in   string
		want AccountID
		text string
	}{
		{"eip155:1:" + addr, AccountID{1, a}, "eip155:1:" + addr},
		{"eip155:1:" + strings.ToLower(addr), AccountID{1, a}, "eip155:1:" + addr},
		{"eip155:10:0x" + strings.ToUpper(addr[2:]), AccountID{10, a}, "eip155:10:" + addr},
		{"eip155:18446744073709551615:" + addr, AccountID{1<<64 - 1, a}, "eip155:18446744073709551615:" + addr},
	} {
		got, err := ParseAccountID(c.in)
		if err != nil || got != c.want || got.String() != c.text {
			t.Errorf("ParseAccountID(%q) = %v, %v; want %v (%s), nil", c.in, got, err, c.want, c.text)
		}
	}
}

func TestParseAccountIDRejects(t *testing.T) {
	const addr = "0xAb5801a7D398351b8bE11C439e05C5B3259aeC9B"
	for _, in := range []string{
		"",
		"eip155",
		"eip155:1",
		"eip155:1:",
		"eip155::" + addr,
		"eip155:0:" + addr,  // chain ID 0 is no chain: it is reserved for wallet keys
		"eip155:01:" + addr, // leading zero: two texts for one chain
		"eip155:+1:" + addr,
		"eip155:-1:" + addr,
		"eip155:18446744073709551616:" + addr, // 2^64
		"eip155:1:" + addr + ":",
		"eip155:1:" + addr + "0",
		"eip155:1:0xab5801a7D398351b8bE11C439e05C5B3259aeC9B", // bad checksum
		"EIP155:1:" + addr,
		"cosmos:cosmoshub-3:cosmos1t2uflqwqe0fsj0shcfkrvpukewcw40yjj6hdc0",
		"bip122:000000000019d6689c085ae165831e93:128Lkh3S7CkDTBZ8W7BbpsN3YYizJMp8p6",
		"eip155:1:" + addr + strings.Repeat(" ", 1<<20),
	} {
		if got, err := ParseAccountID(in); err == nil || !fault.Is(err, fault.Invalid) {
			t.Errorf("ParseAccountID(%.80q) = %v, %v; want an Invalid error", in, got, err)
		}
	}
}

func TestAccountIDKey(t *testing.T) {
	const addr = "0xAb5801a7D398351b8bE11C439e05C5B3259aeC9B"
	mainnet, _ := ParseAccountID("eip155:1:" + strings.ToLower(addr))
	optimism, _ := ParseAccountID("eip155:10:" + addr)
	for _, c := range []struct {
		id   AccountID
		c    Control
		want string
	}{
		{mainnet, KeyControl, "eip155:0:" + addr},
		{optimism, KeyControl, "eip155:0:" + addr},
		{mainnet, ContractControl, "eip155:1:" + addr},
		{optimism, ContractControl, "eip155:10:" + addr},
		{optimism, 0, "eip155:10:" + addr}, // unknown proof: the narrow scope
	} {
		if got := c.id.Key(c.c); got != c.want {
			t.Errorf("%v.Key(%d) = %s, want %s", c.id, c.c, got, c.want)
		}
	}
	if _, err := ParseAccountID(mainnet.Key(KeyControl)); err == nil {
		t.Errorf("ParseAccountID(%s) accepted a key-control key as an account ID", mainnet.Key(KeyControl))
	}
}

func TestAccountIDText(t *testing.T) {
	var a AccountID
	if err := a.UnmarshalText([]byte("eip155:137:0xab5801a7d398351b8be11c439e05c5b3259aec9b")); err != nil {
		t.Fatal(err)
	}
	b, _ := a.MarshalText()
	if want := "eip155:137:0xAb5801a7D398351b8bE11C439e05C5B3259aeC9B"; string(b) != want {
		t.Errorf("MarshalText() = %s, want %s", b, want)
	}
	if err := a.UnmarshalText([]byte(strings.Repeat("9", 1<<16))); !fault.Is(err, fault.Invalid) {
		t.Errorf("UnmarshalText(long) = %v, want Invalid", err)
	}
}

func FuzzParseAccountID(f *testing.F) {
	f.Add("eip155:1:0xAb5801a7D398351b8bE11C439e05C5B3259aeC9B")
	f.Add("eip155:10:0xab5801a7d398351b8be11c439e05c5b3259aec9b")
	f.Add("eip155:01:0xAb5801a7D398351b8bE11C439e05C5B3259aeC9B")
	f.Add("eip155:18446744073709551616:0x0000000000000000000000000000000000000000")
	f.Fuzz(func(t *testing.T, s string) {
		a, err := ParseAccountID(s)
		if err != nil {
			if !fault.Is(err, fault.Invalid) {
				t.Fatalf("ParseAccountID(%q) error kind %v, want Invalid", s, fault.KindOf(err))
			}
			return
		}
		if a.ChainID == 0 || !strings.EqualFold(a.String(), s) {
			t.Fatalf("ParseAccountID(%q) = %v", s, a)
		}
		if b, err := ParseAccountID(a.String()); err != nil || b != a {
			t.Fatalf("ParseAccountID(%s) = %v, %v; want %v", a, b, err, a)
		}
	})
}
