package ethrpc

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
)

// response is a JSON-RPC 2.0 response. Pointers and RawMessage tell an
// absent member from a null one.
type response struct {
	JSONRPC *string         `json:"jsonrpc"`
	ID      json.RawMessage `json:"id"`
	Result  json.RawMessage `json:"result"`
	Error   *errorObject    `json:"error"`
}

type errorObject struct {
	Code    *int64          `json:"code"`
	Message *string         `json:"message"`
	Data    json.RawMessage `json:"data"`
}

// maxMessage bounds the error message kept from an endpoint.
const maxMessage = 200

// decodeResponse reads body as the response to request id: exactly one JSON
// object, no unknown members, "jsonrpc":"2.0", our numeric id, and exactly
// one of result and error. It returns the raw result, a *RevertError for a
// reverted call, an *Error for another error object, or an error wrapping
// ErrMalformed.
func decodeResponse(body []byte, id uint64) (json.RawMessage, error) {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	var r response
	if err := dec.Decode(&r); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	if dec.More() || dec.InputOffset() != int64(len(bytes.TrimRight(body, " \t\r\n"))) {
		return nil, fmt.Errorf("%w: data after the response", ErrMalformed)
	}
	switch {
	case r.JSONRPC == nil || *r.JSONRPC != "2.0":
		return nil, fmt.Errorf("%w: not JSON-RPC 2.0", ErrMalformed)
	case string(r.ID) != strconv.FormatUint(id, 10):
		return nil, fmt.Errorf("%w: response to another request", ErrMalformed)
	case (r.Result == nil) == (r.Error == nil):
		return nil, fmt.Errorf("%w: need exactly one of result and error", ErrMalformed)
	case r.Error != nil:
		return nil, r.Error.decode()
	}
	return r.Result, nil
}

// decode turns an error object into a *RevertError or an *Error. A revert
// is code 3 (geth, EIP-1474 practice) or a message starting "execution
// reverted" (other nodes send -32000); its data, when present, must be hex.
func (o *errorObject) decode() error {
	if o.Code == nil || o.Message == nil {
		return fmt.Errorf("%w: error object without code or message", ErrMalformed)
	}
	if *o.Code == 3 || strings.HasPrefix(*o.Message, "execution reverted") {
		rev := &RevertError{}
		if len(o.Data) > 0 && string(o.Data) != "null" {
			b, err := decodeData(o.Data)
			if err != nil {
				return err
			}
			rev.Data = b
		}
		return rev
	}
	msg := *o.Message
	if len(msg) > maxMessage {
		msg = msg[:maxMessage]
	}
	return &Error{Code: *o.Code, Message: strings.ToValidUTF8(msg, "?")}
}

// decodeData reads a DATA value: a JSON string "0x" and an even number of
// hex digits.
func decodeData(raw json.RawMessage) ([]byte, error) {
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return nil, fmt.Errorf("%w: result is not a string", ErrMalformed)
	}
	h, ok := strings.CutPrefix(s, "0x")
	if !ok {
		return nil, fmt.Errorf("%w: data without 0x", ErrMalformed)
	}
	b, err := hex.DecodeString(h)
	if err != nil {
		return nil, fmt.Errorf("%w: data is not an even number of hex digits", ErrMalformed)
	}
	return b, nil
}

// decodeQuantity reads a QUANTITY value: a JSON string "0x" and 1 to 16 hex
// digits without leading zeros ("0x0" for zero).
func decodeQuantity(raw json.RawMessage) (uint64, error) {
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return 0, fmt.Errorf("%w: result is not a string", ErrMalformed)
	}
	h, ok := strings.CutPrefix(s, "0x")
	if !ok || h == "" || len(h) > 16 || (len(h) > 1 && h[0] == '0') {
		return 0, fmt.Errorf("%w: quantity is not 0x and 1 to 16 hex digits without leading zeros", ErrMalformed)
	}
	n, err := strconv.ParseUint(h, 16, 64)
	if err != nil {
		return 0, fmt.Errorf("%w: quantity is not hexadecimal", ErrMalformed)
	}
	return n, nil
}

// encodeData writes b as DATA.
func encodeData(b []byte) string { return "0x" + hex.EncodeToString(b) }
