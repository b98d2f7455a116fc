// Package chain holds Atrium's Ethereum primitives: Keccak-256, EIP-55
// addresses, CAIP-10 account IDs, EIP-191 personal-message signatures,
// EIP-712 typed-data hashing, ERC-6492 signature unwrapping and ENS names
// (ENSIP-15 normalisation, EIP-137 namehash, DNS wire encoding). Everything here is pure and offline:
// no network, no store, and every input is size-limited and rejected with a
// fault.Invalid error rather than a panic.
//
// # Wallet identity across chains
//
// A CAIP-10 account ID names an address on one chain ("eip155:1:0xAb…"),
// but whether the same address on another chain is the same wallet depends
// on how control of it was proven:
//
//   - Key control (an ECDSA signature that recovers to the address, as for an
//     EOA or an EIP-7702 delegated EOA): the private key controls the
//     address on every EVM chain, so the wallet is chain-agnostic. Its
//     uniqueness key uses chain ID 0, the value EIP-7702 uses for "every
//     chain": "eip155:0:0xAb…".
//   - Contract control (ERC-1271 or ERC-6492, checked against one chain's
//     state): the code, and so the owners, at one address may differ from
//     chain to chain (the same counterfactual address can be deployed by
//     someone else elsewhere), so the wallet is scoped to the chain it was
//     proven on and its key is the full account ID "eip155:1:0xAb…".
//
// AccountID.Key implements that rule. The two key forms never collide:
// ParseAccountID rejects chain ID 0, so no chain-scoped key starts with
// "eip155:0:". An address whose key control has been proven cannot be taken
// over through a contract deployed at the same address elsewhere, because no
// contract can be deployed at an address that has a known private key.
package chain
