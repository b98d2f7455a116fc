// Package evm tests Atrium's wallet signature verification against a real
// EVM: go-ethereum's simulated backend serving JSON-RPC on 127.0.0.1, with
// test wallets compiled from the Solidity sources in contracts/. It is a
// module of its own so that go-ethereum never enters the main module's
// dependency graph; it reaches the main module through a replace directive.
package evm
