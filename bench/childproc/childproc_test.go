package childproc

import (
	"strings"
	"testing"
)

func TestBootstrapKey(t *testing.T) {
	for _, tt := range []struct {
		line, want string
		ok         bool
	}{
		{"bootstrap admin API key: atr_abc123", "atr_abc123", true},
		{"2026/01/01 00:00:00 WARN bootstrap admin API key: atr_abc123", "atr_abc123", true},
		{`level=WARN msg="bootstrap admin API key: atr_abc123"`, "atr_abc123", true},
		{`{"level":"WARN","msg":"bootstrap admin API key: atr_abc123"}`, "atr_abc123", true},
		{"bootstrap admin API key: store it now: atr_abc123", "atr_abc123", true},
		{"bootstrap admin API key:", "", false},
		{`msg="bootstrap admin API key: "`, "", false},
		{"listening on 127.0.0.1:8080", "", false},
	} {
		got, ok := BootstrapKey(tt.line)
		if got != tt.want || ok != tt.ok {
			t.Errorf("BootstrapKey(%q) = %q, %v; want %q, %v", tt.line, got, ok, tt.want, tt.ok)
		}
	}
}

func TestTailKeepsLastLinesAndRedacts(t *testing.T) {
	tl := &Tail{Max: 3}
	tl.Write([]byte("one\ntwo\nthr"))
	tl.Write([]byte("ee\nbootstrap admin API key: atr_secret\n"))
	tl.Add("five")
	if got, want := tl.String(), "three\nbootstrap admin API key: [redacted]\nfive"; got != want {
		t.Errorf("tail = %q, want %q", got, want)
	}
}

// FuzzBootstrapKey checks that a key is only found on a bootstrap line and
// is one non-empty token.
func FuzzBootstrapKey(f *testing.F) {
	f.Add("bootstrap admin API key: atr_abc123")
	f.Add(`level=WARN msg="bootstrap admin API key: atr_abc123"`)
	f.Add(`{"msg":"bootstrap admin API key: \"atr_abc123\""}`)
	f.Add("bootstrap admin API key:bootstrap admin API key: x")
	f.Add("bootstrap admin API key: \u00a0\"")
	f.Fuzz(func(t *testing.T, line string) {
		key, ok := BootstrapKey(line)
		if !ok {
			if key != "" {
				t.Fatalf("BootstrapKey(%q) = %q, false; want no key", line, key)
			}
			return
		}
		if !strings.Contains(line, BootstrapMarker) || key == "" || len(strings.Fields(key)) != 1 ||
			!strings.Contains(line, key) {
			t.Fatalf("BootstrapKey(%q) = %q, true", line, key)
		}
	})
}
