package evm

import (
	"context"
	"crypto/ecdsa"
	"errors"
	"math/big"
	"net"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/eth/ethconfig"
	"github.com/ethereum/go-ethereum/ethclient/simulated"
	"github.com/ethereum/go-ethereum/node"

	"github.com/atriumid/atrium/internal/chain"
	"github.com/atriumid/atrium/internal/chain/ethrpc"
	"github.com/atriumid/atrium/internal/chain/wallet"
	"github.com/atriumid/atrium/internal/credential/siwe"
	"github.com/atriumid/atrium/internal/fault"
)

// devChainID is the chain ID of go-ethereum's simulated (dev) chain.
const devChainID = 1337

// Fixed genesis addresses of the test contracts.
var (
	factoryAddr   = common.HexToAddress("0x00000000000000000000000000000000000fac70")
	deployedAddr  = common.HexToAddress("0x000000000000000000000000000000000000a11e")
	universalAddr = common.HexToAddress("0x0000000000000000000000000000000000000e45")
	resolverAddr  = common.HexToAddress("0x0000000000000000000000000000000000004e50")
)

// localChain is a simulated chain serving JSON-RPC over HTTP on loopback.
// Its genesis holds a WalletFactory, a deployed OwnedWallet of owner, a
// MockUniversalResolver and a MockResolver (both empty), and funds for
// funder to send transactions.
type localChain struct {
	url     string
	backend *simulated.Backend
	owner   *ecdsa.PrivateKey
	funder  *ecdsa.PrivateKey
	// delegated is an EIP-7702 account: an EOA whose code delegates to
	// the OwnedWallet code, with owner in its storage slot 0.
	delegated *ecdsa.PrivateKey
}

func startChain(t *testing.T) *localChain {
	t.Helper()
	owner, err := crypto.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	funder, err := crypto.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	delegated, err := crypto.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	ownerSlot := map[common.Hash]common.Hash{{}: common.BytesToHash(crypto.PubkeyToAddress(owner.PublicKey).Bytes())}
	port := freePort(t)
	alloc := types.GenesisAlloc{
		factoryAddr: {Code: bytecode(t, "WalletFactory.bin-runtime"), Balance: big.NewInt(0)},
		deployedAddr: {
			Code:    bytecode(t, "OwnedWallet.bin-runtime"),
			Storage: ownerSlot,
			Balance: big.NewInt(0),
		},
		// An EIP-7702 delegation designator: 0xef0100 and the address.
		crypto.PubkeyToAddress(delegated.PublicKey): {
			Code:    append([]byte{0xef, 0x01, 0x00}, deployedAddr.Bytes()...),
			Storage: ownerSlot,
			Balance: big.NewInt(0),
		},
		universalAddr:                            {Code: bytecode(t, "MockUniversalResolver.bin-runtime"), Balance: big.NewInt(0)},
		resolverAddr:                             {Code: bytecode(t, "MockResolver.bin-runtime"), Balance: big.NewInt(0)},
		crypto.PubkeyToAddress(funder.PublicKey): {Balance: new(big.Int).Lsh(big.NewInt(1), 80)},
	}
	b := simulated.NewBackend(alloc, func(nc *node.Config, _ *ethconfig.Config) {
		nc.HTTPHost = "127.0.0.1"
		nc.HTTPPort = port
		nc.HTTPModules = []string{"eth"}
		nc.HTTPVirtualHosts = []string{"*"}
	})
	t.Cleanup(func() { b.Close() })
	return &localChain{url: "http://127.0.0.1:" + strconv.Itoa(port), backend: b, owner: owner, funder: funder, delegated: delegated}
}

// freePort returns a loopback TCP port that was free a moment ago: the
// simulated backend hides its node, so the port cannot be read back.
func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func bytecode(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile("contracts/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return common.FromHex(strings.TrimSpace(string(b)))
}

func (c *localChain) client(t *testing.T, chainID uint64) *ethrpc.Client {
	t.Helper()
	client, err := ethrpc.New(ethrpc.Config{
		Endpoints: []ethrpc.Endpoint{{ChainID: chainID, URL: c.url}},
		Timeout:   10 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	return client
}

func (c *localChain) verifier(t *testing.T, chainID uint64) *wallet.Verifier {
	t.Helper()
	return wallet.NewVerifier(c.client(t, chainID))
}

// send sends a transaction from funder to to with data, mines it and
// checks that it succeeded.
func (c *localChain) send(t *testing.T, to common.Address, data []byte) {
	t.Helper()
	ctx := context.Background()
	client := c.backend.Client()
	from := crypto.PubkeyToAddress(c.funder.PublicKey)
	nonce, err := client.PendingNonceAt(ctx, from)
	if err != nil {
		t.Fatal(err)
	}
	id := big.NewInt(devChainID)
	tx, err := types.SignTx(types.NewTx(&types.DynamicFeeTx{
		ChainID: id, Nonce: nonce, GasTipCap: big.NewInt(1e9), GasFeeCap: big.NewInt(100e9),
		Gas: 1_000_000, To: &to, Data: data,
	}), types.LatestSignerForChainID(id), c.funder)
	if err != nil {
		t.Fatal(err)
	}
	if err := client.SendTransaction(ctx, tx); err != nil {
		t.Fatal(err)
	}
	c.backend.Commit()
	receipt, err := client.TransactionReceipt(ctx, tx.Hash())
	if err != nil || receipt.Status != types.ReceiptStatusSuccessful {
		t.Fatalf("transaction to %s failed: %v", to, err)
	}
}

// sign returns the 65-byte r‖s‖v signature of digest by key, v in {27, 28}.
func sign(t *testing.T, key *ecdsa.PrivateKey, digest [32]byte) []byte {
	t.Helper()
	sig, err := crypto.Sign(digest[:], key)
	if err != nil {
		t.Fatal(err)
	}
	sig[64] += 27
	return sig
}

// counterfactual returns the address at which WalletFactory.deploy(owner,
// salt) would create a wallet, and the calldata of that deploy call.
func counterfactual(t *testing.T, owner common.Address, salt common.Hash) (common.Address, []byte) {
	t.Helper()
	initCode := append(bytecode(t, "OwnedWallet.bin"), common.LeftPadBytes(owner.Bytes(), 32)...)
	addr := crypto.CreateAddress2(factoryAddr, salt, crypto.Keccak256(initCode))
	calldata := append(crypto.Keccak256([]byte("deploy(address,bytes32)"))[:4], common.LeftPadBytes(owner.Bytes(), 32)...)
	return addr, append(calldata, salt.Bytes()...)
}

// wrap6492 returns abi.encode(factory, calldata, sig) followed by the
// ERC-6492 magic suffix.
func wrap6492(factory common.Address, calldata, sig []byte) []byte {
	word := func(n int) []byte { return common.LeftPadBytes(big.NewInt(int64(n)).Bytes(), 32) }
	padded := func(b []byte) []byte {
		return append(append(word(len(b)), b...), make([]byte, (32-len(b)%32)%32)...)
	}
	tail1 := padded(calldata)
	out := append(common.LeftPadBytes(factory.Bytes(), 32), word(96)...)
	out = append(out, word(96+len(tail1))...)
	out = append(append(out, tail1...), padded(sig)...)
	return append(out, common.FromHex(strings.Repeat("6492", 16))...)
}

func addr(a common.Address) chain.Address { return chain.Address(a) }

func TestWalletSignatures(t *testing.T) {
	c := startChain(t)
	v := c.verifier(t, devChainID)
	ctx := context.Background()
	digest := chain.PersonalMessageHash([]byte("sign in to Atrium"))
	stranger, err := crypto.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	ownerAddr := crypto.PubkeyToAddress(c.owner.PublicKey)
	cfAddr, deployCall := counterfactual(t, ownerAddr, common.HexToHash("0x01"))
	_, otherSaltCall := counterfactual(t, ownerAddr, common.HexToHash("0x02"))
	delegatedAddr := crypto.PubkeyToAddress(c.delegated.PublicKey)

	tests := []struct {
		name  string
		addr  common.Address
		sig   []byte
		want  chain.Control
		cause error
	}{
		{"EOA", ownerAddr, sign(t, c.owner, digest), chain.KeyControl, nil},
		{"ERC-1271 wallet, owner", deployedAddr, sign(t, c.owner, digest), chain.ContractControl, nil},
		{"ERC-1271 wallet, stranger", deployedAddr, sign(t, stranger, digest), 0, wallet.ErrBadSignature},
		{"ERC-1271 wallet, garbage", deployedAddr, []byte{1, 2, 3}, 0, wallet.ErrBadSignature},
		{"no code, stranger", cfAddr, sign(t, stranger, digest), 0, wallet.ErrBadSignature},
		{"ERC-6492 wallet, owner", cfAddr, wrap6492(factoryAddr, deployCall, sign(t, c.owner, digest)), chain.ContractControl, nil},
		{"ERC-6492 wallet, stranger", cfAddr, wrap6492(factoryAddr, deployCall, sign(t, stranger, digest)), 0, wallet.ErrBadSignature},
		{"ERC-6492 factory deploys elsewhere", cfAddr, wrap6492(factoryAddr, otherSaltCall, sign(t, c.owner, digest)), 0, wallet.ErrNotDeployed},
		{"ERC-6492 factory without code", cfAddr, wrap6492(common.HexToAddress("0xdead"), deployCall, sign(t, c.owner, digest)), 0, wallet.ErrNotDeployed},
		{"ERC-6492 wrapper on a deployed wallet", deployedAddr, wrap6492(factoryAddr, otherSaltCall, sign(t, c.owner, digest)), chain.ContractControl, nil},
		// An EIP-7702 account has code but keeps its key: its own
		// signature is key control, checked before the code is looked at;
		// its delegated code may still accept other signatures.
		{"EIP-7702 account, its key", delegatedAddr, sign(t, c.delegated, digest), chain.KeyControl, nil},
		{"EIP-7702 account, owner in its code", delegatedAddr, sign(t, c.owner, digest), chain.ContractControl, nil},
		{"EIP-7702 account, stranger", delegatedAddr, sign(t, stranger, digest), 0, wallet.ErrBadSignature},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := v.Verify(ctx, devChainID, addr(tt.addr), digest, tt.sig)
			if tt.cause == nil {
				if err != nil || got != tt.want {
					t.Fatalf("Verify() = %v, %v, want %v", got, err, tt.want)
				}
				return
			}
			if !fault.Is(err, fault.Unauthenticated) || !errors.Is(err, tt.cause) {
				t.Fatalf("Verify() = %v, %v, want Unauthenticated wrapping %v", got, err, tt.cause)
			}
		})
	}

	// The deployless check changed no state: the counterfactual wallet is
	// still not deployed.
	code, err := c.backend.Client().CodeAt(ctx, cfAddr, nil)
	if err != nil || len(code) != 0 {
		t.Errorf("code at the counterfactual wallet after verification = %x, %v, want none", code, err)
	}
}

func TestSIWEWithContractWallets(t *testing.T) {
	c := startChain(t)
	v := c.verifier(t, devChainID)
	now := time.Now().UTC().Truncate(time.Second)
	ownerAddr := crypto.PubkeyToAddress(c.owner.PublicKey)
	cfAddr, deployCall := counterfactual(t, ownerAddr, common.HexToHash("0x03"))
	tests := []struct {
		name string
		addr common.Address
		sig  func(digest [32]byte) []byte
	}{
		{"ERC-1271", deployedAddr, func(d [32]byte) []byte { return sign(t, c.owner, d) }},
		{"ERC-6492", cfAddr, func(d [32]byte) []byte { return wrap6492(factoryAddr, deployCall, sign(t, c.owner, d)) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := &siwe.Message{
				Domain: "atrium.example", Address: addr(tt.addr), URI: "https://atrium.example/login",
				Version: siwe.Version, ChainID: devChainID, Nonce: siwe.NewNonce(), IssuedAt: siwe.NewTimestamp(now),
			}
			p := siwe.Policy{Origin: "https://atrium.example", ChainIDs: []uint64{devChainID}, Nonce: m.Nonce}
			got, err := siwe.VerifyWallet(context.Background(), m, tt.sig(chain.PersonalMessageHash([]byte(m.String()))), p, now, v)
			if err != nil || got != chain.ContractControl {
				t.Fatalf("VerifyWallet() = %v, %v, want ContractControl", got, err)
			}
			id := chain.AccountID{ChainID: devChainID, Address: m.Address}
			if key, want := id.Key(got), "eip155:1337:"+m.Address.String(); key != want {
				t.Errorf("wallet key = %q, want %q", key, want)
			}
		})
	}
}

func TestChainFailuresFailClosed(t *testing.T) {
	c := startChain(t)
	digest := chain.PersonalMessageHash([]byte("sign in to Atrium"))
	sig := sign(t, c.owner, digest)

	// The endpoint serves chain 1337, not chain 1.
	_, err := c.verifier(t, 1).Verify(context.Background(), 1, addr(deployedAddr), digest, sig)
	if !fault.Is(err, fault.Unavailable) || !errors.Is(err, ethrpc.ErrWrongChain) {
		t.Errorf("Verify(endpoint of another chain) = %v, want Unavailable wrapping ErrWrongChain", err)
	}

	// The node goes down: contract checks are Unavailable, key checks
	// still work because they never touch the chain.
	v := c.verifier(t, devChainID)
	if err := c.backend.Close(); err != nil {
		t.Fatal(err)
	}
	_, err = v.Verify(context.Background(), devChainID, addr(deployedAddr), digest, sig)
	if !fault.Is(err, fault.Unavailable) {
		t.Errorf("Verify(node down) = %v, want fault.Unavailable", err)
	}
	ownerAddr := addr(crypto.PubkeyToAddress(c.owner.PublicKey))
	if got, err := v.Verify(context.Background(), devChainID, ownerAddr, digest, sig); err != nil || got != chain.KeyControl {
		t.Errorf("Verify(EOA, node down) = %v, %v, want KeyControl", got, err)
	}
}
