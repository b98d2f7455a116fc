package ethrpc

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

// FuzzDecodeResponse checks that no response body makes the decoder panic,
// that it returns either a result or a typed error, and that an accepted
// result decodes as DATA or QUANTITY without a panic either.
func FuzzDecodeResponse(f *testing.F) {
	for _, s := range []string{
		`{"jsonrpc":"2.0","id":7,"result":"0x6001"}`,
		`{"jsonrpc":"2.0","id":7,"result":"0x1"}`,
		`{"jsonrpc":"2.0","id":7,"error":{"code":3,"message":"execution reverted","data":"0x08c379a0"}}`,
		`{"jsonrpc":"2.0","id":7,"error":{"code":-32000,"message":"execution reverted: nope"}}`,
		`{"jsonrpc":"2.0","id":7,"error":{"code":-32005,"message":"limit"}}`,
		`{"jsonrpc":"2.0","id":7,"result":null}`,
		`{"jsonrpc":"2.0","id":7,"result":"0x"} `,
		`{"jsonrpc":"2.0","id":7,"result":"0x"}{}`,
		`[{"jsonrpc":"2.0","id":7,"result":"0x"}]`,
		`{"jsonrpc":"2.0","id":7.0,"result":"0x"}`,
		``,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		raw, err := decodeResponse(body, 7)
		if err != nil {
			var rpcErr *Error
			var rev *RevertError
			if !errors.Is(err, ErrMalformed) && !errors.As(err, &rpcErr) && !errors.As(err, &rev) {
				t.Fatalf("decodeResponse() = %v, want a typed error", err)
			}
			if rpcErr != nil && len(rpcErr.Message) > maxMessage {
				t.Fatalf("error message of %d bytes kept", len(rpcErr.Message))
			}
			return
		}
		if !json.Valid(raw) {
			t.Fatalf("decodeResponse() result %q is not JSON", raw)
		}
		if b, err := decodeData(raw); err == nil && !strings.EqualFold(encodeData(b), mustString(t, raw)) {
			t.Fatalf("decodeData(%s) = %x does not round-trip", raw, b)
		}
		decodeQuantity(raw)
	})
}

func mustString(t *testing.T, raw json.RawMessage) string {
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		t.Fatal(err)
	}
	return s
}
