pragma solidity 0.8.37;

/// @title OwnedWallet is a minimal ERC-1271 smart-contract wallet for tests:
/// it accepts a 65-byte ECDSA signature (r, s, v) of the hash by its owner.
/// @dev owner is in storage slot 0, so tests can place the runtime code in
/// the genesis state with the owner in that slot.
contract OwnedWallet {
    address public owner;

    constructor(address owner_) {
        owner = owner_;
    }

    function isValidSignature(bytes32 hash, bytes calldata signature) external view returns (bytes4) {
        if (signature.length != 65) {
            return 0xffffffff;
        }
        bytes32 r = bytes32(signature[0:32]);
        bytes32 s = bytes32(signature[32:64]);
        uint8 v = uint8(signature[64]);
        if (v < 27) {
            v += 27;
        }
        address signer = ecrecover(hash, v, r, s);
        if (signer == address(0) || signer != owner) {
            return 0xffffffff;
        }
        return 0x1626ba7e;
    }
}
