package chain

import (
	"encoding/hex"
	"testing"
)

func TestKeccak256Vectors(t *testing.T) {
	var cases []struct {
		Name      string `json:"name"`
		Data      string `json:"data"`
		Keccak256 string `json:"keccak256"`
	}
	loadVectors(t, "keccak/hashes-ethers.json.gz", &cases)
	if len(cases) != 257 {
		t.Fatalf("read %d keccak vectors, want 257", len(cases))
	}
	for _, c := range cases {
		got := Keccak256(unhex(t, c.Data))
		if want := c.Keccak256; "0x"+hex.EncodeToString(got[:]) != want {
			t.Errorf("Keccak256(%s) = %x, want %s", c.Name, got, want)
		}
	}
}

func TestKeccak256ConcatenatesParts(t *testing.T) {
	whole := Keccak256([]byte("hello world"))
	parts := Keccak256([]byte("hello"), nil, []byte(" "), []byte("world"))
	if whole != parts {
		t.Errorf("Keccak256(parts) = %x, want %x", parts, whole)
	}
	empty := Keccak256()
	if got, want := hex.EncodeToString(empty[:]), "c5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470"; got != want {
		t.Errorf("Keccak256() = %s, want %s", got, want)
	}
}
