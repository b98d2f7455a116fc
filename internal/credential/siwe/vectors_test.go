package siwe

import (
	"encoding/json"

	"github.com/google/go-cmp/cmp"

	"github.com/atriumid/atrium/internal/chain"
)

// fields is a message as the spruceid/siwe vectors write it in JSON.
type fields struct {
	Scheme         *string         `json:"scheme"`
	Domain         string          `json:"domain"`
	Address        string          `json:"address"`
	Statement      string          `json:"statement"`
	URI            string          `json:"uri"`
	Version        string          `json:"version"`
	ChainID        json.RawMessage `json:"chainId"`
	Nonce          string          `json:"nonce"`
	IssuedAt       string          `json:"issuedAt"`
	ExpirationTime string          `json:"expirationTime"`
	NotBefore      string          `json:"notBefore"`
	RequestID      string          `json:"requestId"`
	Resources      []string        `json:"resources"`
}

// message builds a Message from f the way a caller holding separate values
// would: through the package's typed parsers, then Validate.
func (f fields) message() (*Message, error) {
	m := &Message{
		Domain: f.Domain, Statement: f.Statement, URI: f.URI, Version: f.Version,
		Nonce: f.Nonce, RequestID: f.RequestID, Resources: f.Resources,
	}
	if f.Scheme != nil {
		m.Scheme = *f.Scheme
	}
	var err error
	if f.Address != "" {
		if m.Address, err = chain.ParseAddressStrict(f.Address); err != nil {
			return nil, err
		}
	}
	if len(f.ChainID) > 0 {
		if m.ChainID, err = chain.ParseChainID(string(f.ChainID)); err != nil {
			return nil, err
		}
	}
	for _, t := range []struct {
		text string
		dst  *Timestamp
	}{{f.IssuedAt, &m.IssuedAt}, {f.ExpirationTime, &m.ExpirationTime}, {f.NotBefore, &m.NotBefore}} {
		if t.text == "" {
			continue
		}
		if *t.dst, err = ParseTimestamp(t.text); err != nil {
			return nil, err
		}
	}
	return m, m.Validate()
}

// cmpTimestamp compares Timestamps by text and instant.
var cmpTimestamp = cmp.Comparer(func(a, b Timestamp) bool { return a.text == b.text && a.t.Equal(b.t) })
