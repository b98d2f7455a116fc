pragma solidity 0.8.37;

/// @title MockUniversalResolver is a test stand-in for the ENS Universal
/// Resolver (ENSIP-23) with its own registry: resolve(bytes,bytes) finds
/// the resolver of a DNS-encoded name and calls it, and reverse(bytes,
/// uint256) reads the name record of "<address>.addr.reverse" (ENSIP-19,
/// coin type 60 only).
/// @dev Unlike the real Universal Resolver, reverse does NOT check that the
/// primary name resolves back to the address, so that tests can show the
/// client checks it itself. A resolver's revert, such as EIP-3668
/// OffchainLookup, is passed on unchanged; no wildcard (ENSIP-10) search.
contract MockUniversalResolver {
    mapping(bytes32 => address) public resolvers;

    error ResolverNotFound(bytes name);

    function setResolver(bytes32 node, address resolver) external {
        resolvers[node] = resolver;
    }

    function resolve(bytes calldata name, bytes calldata data) external view returns (bytes memory, address) {
        address resolver = resolvers[namehash(name, 0)];
        if (resolver == address(0)) {
            revert ResolverNotFound(name);
        }
        (bool ok, bytes memory ret) = resolver.staticcall(data);
        if (!ok) {
            assembly {
                revert(add(ret, 32), mload(ret))
            }
        }
        return (ret, resolver);
    }

    function reverse(bytes calldata lookupAddress, uint256 coinType) external view returns (string memory, address, address) {
        require(lookupAddress.length == 20 && coinType == 60, "unsupported");
        bytes32 node = keccak256(abi.encodePacked(addrReverseNode(), keccak256(hexAddress(lookupAddress))));
        address resolver = resolvers[node];
        if (resolver == address(0)) {
            return ("", address(0), address(0));
        }
        return (INameResolver(resolver).name(node), address(0), resolver);
    }

    function namehash(bytes calldata dns, uint256 offset) internal pure returns (bytes32) {
        uint256 len = uint8(dns[offset]);
        if (len == 0) {
            return bytes32(0);
        }
        bytes32 label = keccak256(dns[offset + 1:offset + 1 + len]);
        return keccak256(abi.encodePacked(namehash(dns, offset + 1 + len), label));
    }

    function addrReverseNode() internal pure returns (bytes32) {
        bytes32 rev = keccak256(abi.encodePacked(bytes32(0), keccak256("reverse")));
        return keccak256(abi.encodePacked(rev, keccak256("addr")));
    }

    function hexAddress(bytes calldata a) internal pure returns (bytes memory out) {
        bytes16 digits = "0123456789abcdef";
        out = new bytes(40);
        for (uint256 i = 0; i < 20; i++) {
            out[2 * i] = digits[uint8(a[i]) >> 4];
            out[2 * i + 1] = digits[uint8(a[i]) & 15];
        }
    }
}

interface INameResolver {
    function name(bytes32 node) external view returns (string memory);
}
