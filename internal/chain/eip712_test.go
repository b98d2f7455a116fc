package chain

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"strings"
	"testing"

	"github.com/atriumid/atrium/internal/fault"
	"github.com/atriumid/atrium/internal/testvectors"
)

func TestTypedDataMailExample(t *testing.T) {
	var v struct {
		TypedData json.RawMessage `json:"typedData"`
		Expected  map[string]any  `json:"expected"`
	}
	testvectors.Decode(t, "eip712/mail-example.json", &v)
	td, err := ParseTypedData(v.TypedData)
	if err != nil {
		t.Fatal(err)
	}
	want := func(k string) string { return v.Expected[k].(string) }
	e := typedEncoder{types: td.Types}
	if got, err := e.encodeType("Mail"); err != nil || got != want("encodeType_Mail") {
		t.Errorf("encodeType(Mail) = %q, %v; want %q", got, err, want("encodeType_Mail"))
	}
	hashes := map[string]func() ([32]byte, error){
		"hashStruct_Mail": func() ([32]byte, error) { return td.HashStruct("Mail", td.Message) },
		"domainSeparator": td.DomainSeparator,
		"signingHash":     td.Hash,
	}
	for k, f := range hashes {
		if got, err := f(); err != nil || "0x"+hex.EncodeToString(got[:]) != want(k) {
			t.Errorf("%s = %x, %v; want %s", k, got, err, want(k))
		}
	}
	h, _ := td.Hash()
	if a, err := Recover(h, unhex(t, want("signature"))); err != nil || a.String() != want("signer") {
		t.Errorf("Recover(signingHash, signature) = %v, %v; want %s", a, err, want("signer"))
	}
}

// TestTypedDataEthersVectors runs the 130 ethers.js typed-data vectors. The
// 7 with an empty domain must be rejected by Hash (see TypedData.Hash);
// their message encoding must still match.
func TestTypedDataEthersVectors(t *testing.T) {
	var raw []json.RawMessage
	testvectors.Decode(t, "eip712/typed-data-ethers.json.gz", &raw)
	if len(raw) != 130 {
		t.Fatalf("read %d typed-data vectors, want 130", len(raw))
	}
	empty := 0
	for _, r := range raw {
		var v struct {
			Name        string                  `json:"name"`
			Domain      json.RawMessage         `json:"domain"`
			PrimaryType string                  `json:"primaryType"`
			Types       map[string][]TypedField `json:"types"`
			Data        json.RawMessage         `json:"data"`
			Encoded     string                  `json:"encoded"`
			Digest      string                  `json:"digest"`
		}
		if err := json.Unmarshal(r, &v); err != nil {
			t.Fatal(err)
		}
		doc, _ := json.Marshal(map[string]any{"types": v.Types, "primaryType": v.PrimaryType, "domain": v.Domain, "message": v.Data})
		td, err := ParseTypedData(doc)
		if err != nil {
			t.Errorf("%s: ParseTypedData = %v", v.Name, err)
			continue
		}
		if got, err := td.encodeData(); err != nil || !bytes.Equal(got, unhex(t, v.Encoded)) {
			t.Errorf("%s: encodeData = %x, %v; want %s", v.Name, got, err, v.Encoded)
		}
		got, err := td.Hash()
		if len(td.Domain) == 0 {
			empty++
			if !fault.Is(err, fault.Invalid) {
				t.Errorf("%s: Hash(empty domain) = %x, %v; want an Invalid error", v.Name, got, err)
			}
			continue
		}
		if err != nil || "0x"+hex.EncodeToString(got[:]) != v.Digest {
			t.Errorf("%s: Hash = %x, %v; want %s", v.Name, got, err, v.Digest)
		}
	}
	if empty != 7 {
		t.Errorf("%d vectors had an empty domain, want 7", empty)
	}
}

// encodeData returns the EIP-712 encodeData of the message as the primary
// type (type hash first), which the ethers vectors list.
func (td *TypedData) encodeData() ([]byte, error) {
	e := typedEncoder{types: td.Types}
	enc, err := e.encodeType(td.PrimaryType)
	if err != nil {
		return nil, err
	}
	th := Keccak256([]byte(enc))
	out := th[:]
	for _, f := range td.Types[td.PrimaryType] {
		w, err := e.encodeValue(f.Type, td.Message[f.Name], 1)
		if err != nil {
			return nil, err
		}
		out = append(out, w[:]...)
	}
	return out, nil
}

func TestTypedDataRejects(t *testing.T) {
	base := `{"types":{"T":[{"name":"v","type":"%s"}]},"primaryType":"T","domain":{"chainId":1},"message":{"v":%s}}`
	doc := func(typ, val string) string {
		return strings.Replace(strings.Replace(base, "%s", typ, 1), "%s", val, 1)
	}
	for _, c := range []struct{ name, doc string }{
		{"uint8 overflow", doc("uint8", "256")},
		{"uint negative", doc("uint256", `"-1"`)},
		{"int8 underflow", doc("int8", "-129")},
		{"fraction", doc("uint256", "1.5")},
		{"exponent", doc("uint256", "1e3")},
		{"uint7", doc("uint7", "1")},
		{"uint264", doc("uint264", "1")},
		{"int08", doc("int08", "1")},
		{"bytes33", doc("bytes33", `"0x00"`)},
		{"bytes2 short", doc("bytes2", `"0x00"`)},
		{"bytes odd hex", doc("bytes", `"0x0"`)},
		{"bytes no prefix", doc("bytes", `"00"`)},
		{"bool as string", doc("bool", `"true"`)},
		{"address bad checksum", doc("address", `"0x5AAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"`)},
		{"unknown type", doc("Nope", `{}`)},
		{"fixed array wrong length", doc("uint8[2]", `[1]`)},
		{"array not array", doc("uint8[]", `1`)},
		{"zero-length array type", doc("uint8[0]", `[]`)},
		{"malformed dimension", doc("uint8[x]", `[]`)},
		{"missing member", `{"types":{"T":[{"name":"v","type":"uint8"}]},"primaryType":"T","domain":{"chainId":1},"message":{}}`},
		{"extra member", `{"types":{"T":[{"name":"v","type":"uint8"}]},"primaryType":"T","domain":{"chainId":1},"message":{"v":1,"w":2}}`},
		{"unknown primary type", `{"types":{"T":[]},"primaryType":"U","domain":{"chainId":1},"message":{}}`},
		{"atomic type name", `{"types":{"uint8":[]},"primaryType":"uint8","domain":{"chainId":1},"message":{}}`},
		{"empty domain", `{"types":{"T":[]},"primaryType":"T","domain":{},"message":{}}`},
		{"too deep", `{"types":{"T":[{"name":"t","type":"T[]"}]},"primaryType":"T","domain":{"chainId":1},"message":{"t":[` +
			strings.Repeat(`{"t":[`, 40) + strings.Repeat(`]}`, 40) + `]}}`},
	} {
		td, err := ParseTypedData([]byte(c.doc))
		if err == nil {
			_, err = td.Hash()
		}
		if !fault.Is(err, fault.Invalid) {
			t.Errorf("Hash(%s) = %v, want an Invalid error", c.name, err)
		}
	}
	if _, err := ParseTypedData(make([]byte, MaxTypedDataLen+1)); !fault.Is(err, fault.Invalid) {
		t.Errorf("ParseTypedData(too long) = %v, want Invalid", err)
	}
	if _, err := ParseTypedData([]byte(`{} {}`)); !fault.Is(err, fault.Invalid) {
		t.Errorf("ParseTypedData(two documents) = %v, want Invalid", err)
	}
	// Recursive types are legal; their encodeType lists each once.
	rec := `{"types":{"T":[{"name":"t","type":"T[]"},{"name":"n","type":"int8"}]},"primaryType":"T","domain":{"name":"x"},"message":{"t":[{"t":[],"n":"-1"}],"n":-128}}`
	td, err := ParseTypedData([]byte(rec))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := td.Hash(); err != nil {
		t.Errorf("Hash(recursive) = %v", err)
	}
}

func FuzzTypedDataHash(f *testing.F) {
	f.Add([]byte(`{"types":{"T":[{"name":"v","type":"uint8[2][]"}]},"primaryType":"T","domain":{"chainId":1},"message":{"v":[[1,2]]}}`))
	f.Add([]byte(`{"types":{"T":[{"name":"t","type":"T[]"}]},"primaryType":"T","domain":{"name":"x","salt":"0x00"},"message":{"t":[]}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		td, err := ParseTypedData(data)
		if err != nil {
			return
		}
		if _, err := td.Hash(); err != nil && !fault.Is(err, fault.Invalid) {
			t.Fatalf("Hash error kind %v, want Invalid: %v", fault.KindOf(err), err)
		}
	})
}
