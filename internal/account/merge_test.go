package account

import (
	"encoding/json"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestMergePatch runs the examples of RFC 7396, Appendix A (those whose
// target and patch are objects, as fragment data always is).
func TestMergePatch(t *testing.T) {
	tests := []struct{ target, patch, want string }{
		{`{"a":"b"}`, `{"a":"c"}`, `{"a":"c"}`},
		{`{"a":"b"}`, `{"b":"c"}`, `{"a":"b","b":"c"}`},
		{`{"a":"b"}`, `{"a":null}`, `{}`},
		{`{"a":"b","b":"c"}`, `{"a":null}`, `{"b":"c"}`},
		{`{"a":["b"]}`, `{"a":"c"}`, `{"a":"c"}`},
		{`{"a":"c"}`, `{"a":["b"]}`, `{"a":["b"]}`},
		{`{"a":{"b":"c"}}`, `{"a":{"b":"d","c":null}}`, `{"a":{"b":"d"}}`},
		{`{"a":[{"b":"c"}]}`, `{"a":[1]}`, `{"a":[1]}`},
		{`{"e":null}`, `{"a":1}`, `{"e":null,"a":1}`},
		{`{}`, `{"a":{"bb":{"ccc":null}}}`, `{"a":{"bb":{}}}`},
	}
	for _, tc := range tests {
		var target, patch, want map[string]any
		json.Unmarshal([]byte(tc.target), &target)
		json.Unmarshal([]byte(tc.patch), &patch)
		json.Unmarshal([]byte(tc.want), &want)
		got := mergePatch(target, patch)
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("mergePatch(%s, %s) (-want +got):\n%s", tc.target, tc.patch, diff)
		}
	}
}
