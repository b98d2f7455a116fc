package outbox_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/atriumid/atrium/internal/fault"
	"github.com/atriumid/atrium/internal/outbox"
	"github.com/google/go-cmp/cmp"
)

var jsonUnmarshal = json.Unmarshal

func TestCloudEvent(t *testing.T) {
	e := outbox.New("atrium.account.created", "usr_1", time.Date(2026, 1, 2, 3, 4, 5, 6000, time.UTC), map[string]any{"kind": "user"})
	b, err := e.JSON("https://id.example")
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	json.Unmarshal(b, &got)
	want := map[string]any{
		"specversion": "1.0", "id": e.ID, "source": "https://id.example", "type": "atrium.account.created",
		"subject": "usr_1", "time": "2026-01-02T03:04:05.000006Z", "datacontenttype": "application/json",
		"data": map[string]any{"kind": "user"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("JSON mismatch (-want +got):\n%s", diff)
	}
}

func TestParseCursor(t *testing.T) {
	tests := []struct {
		in   string
		want int64
		ok   bool
	}{
		{"", 0, true}, {"0", 0, true}, {"42", 42, true}, {"9223372036854775807", 1<<63 - 1, true},
		{"-1", 0, false}, {"x", 0, false}, {"1.5", 0, false}, {"99999999999999999999", 0, false}, {" 1", 0, false},
	}
	for _, tc := range tests {
		got, err := outbox.ParseCursor("after", tc.in)
		if tc.ok && (err != nil || got != tc.want) {
			t.Errorf("ParseCursor(%q) = %d, %v; want %d", tc.in, got, err, tc.want)
		}
		if !tc.ok && !fault.Is(err, fault.Invalid) {
			t.Errorf("ParseCursor(%q) = %d, %v; want Invalid", tc.in, got, err)
		}
	}
}

func FuzzParseCursor(f *testing.F) {
	for _, s := range []string{"", "0", "17", "-3", "0x10", "1e3", "18446744073709551616"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := outbox.ParseCursor("after", s)
		if err == nil && (n < 0 || (s != "" && outbox.Record{Pos: n}.Cursor() != trimZeros(s))) {
			t.Errorf("ParseCursor(%q) = %d, which does not print back", s, n)
		}
	})
}

func trimZeros(s string) string {
	for len(s) > 1 && s[0] == '0' {
		s = s[1:]
	}
	return s
}
