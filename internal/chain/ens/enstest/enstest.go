// Package enstest provides a fake JSON-RPC endpoint with canned ENS
// answers, for tests of code that resolves ENS names without a chain.
package enstest

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"strings"
	"sync"

	"github.com/atriumid/atrium/internal/chain"
	"github.com/atriumid/atrium/internal/chain/abi"
)

// FakeChain is a fake JSON-RPC endpoint of chain 1 with canned answers for
// a Universal Resolver at any address: resolve(bytes,bytes) answers from
// Forward, keyed by the name whose namehash the calldata holds (a name it
// lacks reverts), and reverse(bytes,uint256) from Reverse. While Down is
// set every request fails with 502. Change the fields inside Set.
type FakeChain struct {
	mu      sync.Mutex
	Forward map[string]chain.Address
	Reverse map[chain.Address]string
	Down    bool
}

// Set runs fn, which may change the fields, under the fake's lock.
func (c *FakeChain) Set(fn func()) {
	c.mu.Lock()
	defer c.mu.Unlock()
	fn()
}

// ServeHTTP answers one JSON-RPC request.
func (c *FakeChain) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	c.mu.Lock()
	defer c.mu.Unlock()
	var req struct {
		ID     uint64            `json:"id"`
		Method string            `json:"method"`
		Params []json.RawMessage `json:"params"`
	}
	if c.Down || json.NewDecoder(r.Body).Decode(&req) != nil {
		http.Error(w, "down", http.StatusBadGateway)
		return
	}
	res := map[string]any{"jsonrpc": "2.0", "id": req.ID}
	switch req.Method {
	case "eth_chainId":
		res["result"] = "0x1"
	case "eth_call":
		var call struct{ Data string }
		if len(req.Params) > 0 {
			json.Unmarshal(req.Params[0], &call)
		}
		data, _ := hex.DecodeString(strings.TrimPrefix(call.Data, "0x"))
		if out, ok := c.answer(data); ok {
			res["result"] = "0x" + hex.EncodeToString(out)
		} else {
			res["error"] = map[string]any{"code": 3, "message": "execution reverted", "data": "0x77199d95"}
		}
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(res)
}

// resolverAddr is the resolver the fake's answers name.
var resolverAddr = chain.Address{0x4e, 0x50}

func (c *FakeChain) answer(data []byte) ([]byte, bool) {
	if len(data) < 4 {
		return nil, false
	}
	switch hex.EncodeToString(data[:4]) {
	case "9061b923": // resolve(bytes,bytes)
		for name, a := range c.Forward {
			if node := chain.Namehash(name); bytes.Contains(data, node[:]) {
				return abi.Encode(abi.Encode(a), resolverAddr), true
			}
		}
	case "5d78a217": // reverse(bytes,uint256)
		arg, err := abi.Bytes(data[4:], 0)
		if err != nil || len(arg) != len(chain.Address{}) {
			return nil, false
		}
		return abi.Encode(c.Reverse[chain.Address(arg)], chain.Address{}, resolverAddr), true
	}
	return nil, false
}
