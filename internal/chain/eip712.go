package chain

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"math/big"
	"slices"
	"strconv"
	"strings"

	"github.com/atriumid/atrium/internal/fault"
)

// Limits on EIP-712 typed data, which comes from outside.
const (
	MaxTypedDataLen   = 64 << 10 // bytes of JSON
	maxTypedDataDepth = 32       // nesting of structs and arrays in a value
)

// TypedField is one member of an EIP-712 struct type.
type TypedField struct {
	Name string `json:"name"`
	Type string `json:"type"`
}

// TypedData is an EIP-712 typed-data document, as eth_signTypedData_v4
// takes it. Values are JSON values decoded with json.Number for numbers;
// ParseTypedData builds one.
type TypedData struct {
	Types       map[string][]TypedField `json:"types"`
	PrimaryType string                  `json:"primaryType"`
	Domain      map[string]any          `json:"domain"`
	Message     map[string]any          `json:"message"`
}

// domainFields are the EIP712Domain members in the order EIP-712 lists
// them, used when the document does not declare EIP712Domain itself.
var domainFields = []TypedField{
	{"name", "string"}, {"version", "string"}, {"chainId", "uint256"},
	{"verifyingContract", "address"}, {"salt", "bytes32"},
}

// ParseTypedData decodes an EIP-712 JSON document of at most
// MaxTypedDataLen bytes. It checks only the JSON; Hash checks the types and
// values. The error is fault.Invalid.
func ParseTypedData(data []byte) (*TypedData, error) {
	const op = "chain.ParseTypedData"
	if len(data) > MaxTypedDataLen {
		return nil, fault.E(op, fault.Invalid, "typed data longer than %d bytes", MaxTypedDataLen)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var td TypedData
	if err := dec.Decode(&td); err != nil {
		return nil, &fault.Error{Op: op, Kind: fault.Invalid, Msg: "typed data is not a valid EIP-712 JSON document", Err: err}
	}
	if dec.More() {
		return nil, fault.E(op, fault.Invalid, "typed data has trailing content")
	}
	return &td, nil
}

// Hash returns the EIP-712 signing hash of td: Keccak-256 of 0x19 0x01, the
// domain separator and the hash of the message as td.PrimaryType. The
// domain's type is td.Types["EIP712Domain"] when declared, else derived
// from the domain's members. A domain with no member binds a signature to
// no application, chain or contract, so Hash rejects it, as it rejects
// unknown types, missing or extra members and values out of range for
// their type. The error is fault.Invalid.
func (td *TypedData) Hash() ([32]byte, error) {
	const op = "chain.TypedData.Hash"
	if len(td.Domain) == 0 {
		return [32]byte{}, fault.E(op, fault.Invalid, "typed data has an empty domain")
	}
	domain, err := td.DomainSeparator()
	if err != nil {
		return [32]byte{}, err
	}
	msg, err := td.HashStruct(td.PrimaryType, td.Message)
	if err != nil {
		return [32]byte{}, err
	}
	return Keccak256([]byte{0x19, 0x01}, domain[:], msg[:]), nil
}

// DomainSeparator returns hashStruct(EIP712Domain, td.Domain).
func (td *TypedData) DomainSeparator() ([32]byte, error) {
	types := td.Types
	if _, ok := types["EIP712Domain"]; !ok {
		types = make(map[string][]TypedField, len(td.Types)+1)
		for k, v := range td.Types {
			types[k] = v
		}
		var fs []TypedField
		for _, f := range domainFields {
			if _, ok := td.Domain[f.Name]; ok {
				fs = append(fs, f)
			}
		}
		types["EIP712Domain"] = fs
	}
	e := typedEncoder{types: types}
	return e.hashStruct("EIP712Domain", td.Domain, 0)
}

// HashStruct returns the EIP-712 hashStruct of value as the struct type
// name of td.Types: Keccak-256 of the type hash and the encoded members.
func (td *TypedData) HashStruct(name string, value map[string]any) ([32]byte, error) {
	e := typedEncoder{types: td.Types}
	return e.hashStruct(name, value, 0)
}

// typedEncoder encodes values against one set of struct types.
type typedEncoder struct {
	types map[string][]TypedField
}

func typedErr(format string, args ...any) error {
	return fault.E("chain.TypedData", fault.Invalid, "typed data: "+format, args...)
}

// encodeType returns the EIP-712 encodeType of name: the struct itself,
// then every struct it references, directly or not, sorted by name.
func (e typedEncoder) encodeType(name string) (string, error) {
	deps := map[string]bool{}
	if err := e.collect(name, deps); err != nil {
		return "", err
	}
	delete(deps, name)
	order := []string{name}
	for d := range deps {
		order = append(order, d)
	}
	slices.Sort(order[1:])
	var b strings.Builder
	for _, t := range order {
		b.WriteString(t)
		b.WriteByte('(')
		for i, f := range e.types[t] {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(f.Type)
			b.WriteByte(' ')
			b.WriteString(f.Name)
		}
		b.WriteByte(')')
	}
	return b.String(), nil
}

// collect adds name and the struct types it references to seen.
func (e typedEncoder) collect(name string, seen map[string]bool) error {
	if seen[name] {
		return nil
	}
	fields, ok := e.types[name]
	if !ok || atomicType(name) {
		return typedErr("unknown struct type %q", name)
	}
	seen[name] = true
	for _, f := range fields {
		base, ok := baseType(f.Type)
		if !ok {
			return typedErr("malformed type %q", f.Type)
		}
		if _, ok := e.types[base]; ok {
			if err := e.collect(base, seen); err != nil {
				return err
			}
		} else if !atomicType(base) {
			return typedErr("unknown type %q", f.Type)
		}
	}
	return nil
}

func (e typedEncoder) hashStruct(name string, value map[string]any, depth int) ([32]byte, error) {
	if depth > maxTypedDataDepth {
		return [32]byte{}, typedErr("nested too deeply")
	}
	enc, err := e.encodeType(name)
	if err != nil {
		return [32]byte{}, err
	}
	fields := e.types[name]
	if len(value) != len(fields) {
		return [32]byte{}, typedErr("%s has %d members, the value has %d", name, len(fields), len(value))
	}
	th := Keccak256([]byte(enc))
	buf := make([]byte, 0, 32*(1+len(fields)))
	buf = append(buf, th[:]...)
	for _, f := range fields {
		v, ok := value[f.Name]
		if !ok {
			return [32]byte{}, typedErr("%s.%s is missing", name, f.Name)
		}
		w, err := e.encodeValue(f.Type, v, depth+1)
		if err != nil {
			return [32]byte{}, err
		}
		buf = append(buf, w[:]...)
	}
	return Keccak256(buf), nil
}

// encodeValue returns the 32-byte encoding of v as type t.
func (e typedEncoder) encodeValue(t string, v any, depth int) ([32]byte, error) {
	var w [32]byte
	if depth > maxTypedDataDepth {
		return w, typedErr("nested too deeply")
	}
	if base, n := splitArray(t); n != "" {
		items, ok := v.([]any)
		if !ok {
			return w, typedErr("%s wants an array", t)
		}
		if n != "[]" {
			size, err := strconv.Atoi(n[1 : len(n)-1])
			if err != nil || size != len(items) {
				return w, typedErr("%s wants %s items, got %d", t, n, len(items))
			}
		}
		buf := make([]byte, 0, 32*len(items))
		for _, it := range items {
			iw, err := e.encodeValue(base, it, depth+1)
			if err != nil {
				return w, err
			}
			buf = append(buf, iw[:]...)
		}
		return Keccak256(buf), nil
	}
	if _, ok := e.types[t]; ok {
		m, ok := v.(map[string]any)
		if !ok {
			return w, typedErr("%s wants an object", t)
		}
		return e.hashStruct(t, m, depth)
	}
	return encodeAtomic(t, v)
}

// splitArray splits "T[2][]" into "T[2]" and "[]": the element type and
// the outermost dimension, or t and "" when t is not an array.
func splitArray(t string) (elem, dim string) {
	if !strings.HasSuffix(t, "]") {
		return t, ""
	}
	i := strings.LastIndexByte(t, '[')
	if i <= 0 {
		return t, ""
	}
	return t[:i], t[i:]
}

// baseType strips every array dimension from t ("T[2][]" → "T"), and
// reports whether each is "[]" or "[n]" with n a positive decimal.
func baseType(t string) (string, bool) {
	for {
		elem, dim := splitArray(t)
		if dim == "" {
			return t, t != ""
		}
		if n := dim[1 : len(dim)-1]; n != "" {
			if v, err := strconv.Atoi(n); err != nil || v < 1 || n[0] == '0' {
				return "", false
			}
		}
		t = elem
	}
}

// atomicType reports whether t is an EIP-712 atomic or dynamic type.
func atomicType(t string) bool {
	switch t {
	case "bool", "address", "string", "bytes":
		return true
	}
	if n, ok := strings.CutPrefix(t, "bytes"); ok {
		size, err := strconv.Atoi(n)
		return err == nil && size >= 1 && size <= 32 && n[0] != '0'
	}
	n := strings.TrimPrefix(strings.TrimPrefix(t, "u"), "int")
	if !strings.HasPrefix(strings.TrimPrefix(t, "u"), "int") || n == "" {
		return false
	}
	bits, err := strconv.Atoi(n)
	return err == nil && bits >= 8 && bits <= 256 && bits%8 == 0 && n[0] != '0'
}

func encodeAtomic(t string, v any) ([32]byte, error) {
	var w [32]byte
	switch {
	case t == "string":
		s, ok := v.(string)
		if !ok {
			return w, typedErr("string wants a JSON string")
		}
		return Keccak256([]byte(s)), nil
	case t == "bytes":
		b, err := typedHex(v, -1)
		if err != nil {
			return w, err
		}
		return Keccak256(b), nil
	case t == "bool":
		b, ok := v.(bool)
		if !ok {
			return w, typedErr("bool wants true or false")
		}
		if b {
			w[31] = 1
		}
		return w, nil
	case t == "address":
		s, ok := v.(string)
		if !ok {
			return w, typedErr("address wants a string")
		}
		a, err := ParseAddress(s)
		if err != nil {
			return w, err
		}
		copy(w[12:], a[:])
		return w, nil
	case strings.HasPrefix(t, "bytes"):
		size, _ := strconv.Atoi(t[len("bytes"):])
		b, err := typedHex(v, size)
		if err != nil {
			return w, err
		}
		copy(w[:], b)
		return w, nil
	case atomicType(t):
		return encodeInt(t, v)
	}
	return w, typedErr("unknown type %q", t)
}

// typedHex decodes a "0x" hex string of exactly size bytes (any size when
// size is negative).
func typedHex(v any, size int) ([]byte, error) {
	s, ok := v.(string)
	if !ok || !strings.HasPrefix(s, "0x") || len(s)%2 != 0 {
		return nil, typedErr("bytes want a 0x-prefixed hex string")
	}
	b := make([]byte, (len(s)-2)/2)
	if _, err := hex.Decode(b, []byte(s[2:])); err != nil || (size >= 0 && len(b) != size) {
		return nil, typedErr("bytes value is not %d bytes of hex", size)
	}
	return b, nil
}

// encodeInt encodes an intN or uintN given as a JSON number, a decimal
// string or a 0x hex string, in two's complement over 32 bytes.
func encodeInt(t string, v any) ([32]byte, error) {
	var w [32]byte
	var s string
	switch x := v.(type) {
	case json.Number:
		s = x.String()
	case string:
		s = x
	default:
		return w, typedErr("%s wants a number", t)
	}
	if len(s) > 80 {
		return w, typedErr("%s value is too long", t)
	}
	n, ok := new(big.Int), false
	if h, isHex := strings.CutPrefix(s, "0x"); isHex {
		_, ok = n.SetString(h, 16)
		ok = ok && h != "" && !strings.HasPrefix(h, "-") && !strings.HasPrefix(h, "+")
	} else {
		_, ok = n.SetString(s, 10)
		ok = ok && !strings.HasPrefix(s, "+")
	}
	if !ok {
		return w, typedErr("%s value is not an integer", t)
	}
	signed := !strings.HasPrefix(t, "u")
	bits, _ := strconv.Atoi(strings.TrimPrefix(strings.TrimPrefix(t, "u"), "int"))
	lo, hi := new(big.Int), new(big.Int).Lsh(big.NewInt(1), uint(bits))
	if signed {
		hi.Rsh(hi, 1)
		lo.Neg(hi)
	}
	if n.Cmp(lo) < 0 || n.Cmp(hi) >= 0 {
		return w, typedErr("%s value is out of range", t)
	}
	if n.Sign() < 0 {
		n.Add(n, new(big.Int).Lsh(big.NewInt(1), 256))
	}
	n.FillBytes(w[:])
	return w, nil
}
