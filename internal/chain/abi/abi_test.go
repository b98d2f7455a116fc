package abi

import (
	"bytes"
	"encoding/hex"
	"errors"
	"strings"
	"testing"

	"github.com/atriumid/atrium/internal/chain"
)

// TestEncode checks Encode against an encoding written out by hand.
func TestEncode(t *testing.T) {
	var d [32]byte
	d[31] = 0xdd
	a := chain.Address{19: 0xaa}
	got := hex.EncodeToString(Encode(a, d, uint64(60), []byte{0xbb, 0xcc}, "hi"))
	want := strings.Repeat("0", 62) + "aa" +
		strings.Repeat("0", 62) + "dd" +
		strings.Repeat("0", 62) + "3c" +
		strings.Repeat("0", 62) + "a0" + // offset of the bytes: 5 words
		strings.Repeat("0", 62) + "e0" + // offset of the string: 7 words
		strings.Repeat("0", 62) + "02" + "bbcc" + strings.Repeat("0", 60) +
		strings.Repeat("0", 62) + "02" + "6869" + strings.Repeat("0", 60)
	if got != want {
		t.Errorf("Encode() =\n%s, want\n%s", got, want)
	}
}

func TestRoundTrip(t *testing.T) {
	a := chain.Address{1, 2, 3}
	long := bytes.Repeat([]byte{7}, 65)
	data := Encode([]byte{}, a, long, "name.eth")
	if got, err := Bytes(data, 0); err != nil || len(got) != 0 {
		t.Errorf("Bytes(0) = %x, %v, want empty", got, err)
	}
	if got, err := Address(data, 1); err != nil || got != a {
		t.Errorf("Address(1) = %v, %v, want %v", got, err, a)
	}
	if got, err := Bytes(data, 2); err != nil || !bytes.Equal(got, long) {
		t.Errorf("Bytes(2) = %x, %v, want %x", got, err, long)
	}
	if got, err := Bytes(data, 3); err != nil || string(got) != "name.eth" {
		t.Errorf("Bytes(3) = %q, %v, want name.eth", got, err)
	}
}

func TestDecodeRejects(t *testing.T) {
	word := func(b ...byte) []byte { return append(make([]byte, 32-len(b)), b...) }
	tests := []struct {
		name string
		data []byte
		i    int
	}{
		{"no such word", word(0x20), 1},
		{"negative index", word(0x20), -1},
		{"offset past the end", append(word(0x40), word(0)...), 0},
		{"unaligned offset", append(word(0x21), word(0)...), 0},
		{"huge offset", append(bytes.Repeat([]byte{0xff}, 32), word(0)...), 0},
		{"length past the end", append(word(0x20), word(0x21)...), 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got, err := Bytes(tt.data, tt.i); !errors.Is(err, ErrEncoding) {
				t.Errorf("Bytes() = %x, %v, want ErrEncoding", got, err)
			}
		})
	}
	if got, err := Address(append([]byte{1}, make([]byte, 31)...), 0); !errors.Is(err, ErrEncoding) {
		t.Errorf("Address(dirty high bytes) = %v, %v, want ErrEncoding", got, err)
	}
}

// TestStrings decodes string[] and bytes4 as Solidity encodes them, and
// refuses arrays over the limit and dirty bytes4 words.
func TestStrings(t *testing.T) {
	urls := []string{"https://gw.example/{sender}/{data}.json", "", strings.Repeat("u", 70)}
	data := Encode(chain.Address{1}, urls, [32]byte{0x12, 0x34, 0x56, 0x78})
	got, err := Strings(data, 1, 3)
	if err != nil || len(got) != 3 || got[0] != urls[0] || got[1] != "" || got[2] != urls[2] {
		t.Errorf("Strings() = %q, %v, want %q", got, err, urls)
	}
	if _, err := Strings(data, 1, 2); !errors.Is(err, ErrEncoding) {
		t.Errorf("Strings(max 2) = %v, want ErrEncoding", err)
	}
	if b, err := Bytes4(data, 2); err != nil || b != [4]byte{0x12, 0x34, 0x56, 0x78} {
		t.Errorf("Bytes4() = %x, %v", b, err)
	}
	if _, err := Bytes4(Encode([32]byte{1, 2, 3, 4, 5}), 0); !errors.Is(err, ErrEncoding) {
		t.Errorf("Bytes4(5 bytes) = %v, want ErrEncoding", err)
	}
}

func FuzzDecode(f *testing.F) {
	f.Add(Encode([]byte{1, 2}, chain.Address{1}, "x"), 0)
	f.Add(Encode("name.eth", chain.Address{9}, chain.Address{8}), 0)
	f.Add([]byte{}, 3)
	f.Add(Encode(chain.Address{1}, []string{"https://a.example/{data}", "b"}, []byte{1}), 1)
	f.Fuzz(func(t *testing.T, data []byte, i int) {
		if s, err := Strings(data, i, 8); err == nil && len(s) > 8 {
			t.Fatalf("Strings() returned %d strings, want at most 8", len(s))
		}
		Bytes4(data, i)
		if b, err := Bytes(data, i); err == nil && len(b) > len(data) {
			t.Fatalf("Bytes() returned %d bytes from %d", len(b), len(data))
		}
		Address(data, i)
	})
}
