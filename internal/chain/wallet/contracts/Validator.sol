pragma solidity 0.8.37;

/// @title Validator checks a smart-contract wallet's signature in one
/// eth_call without being deployed: the call carries this contract's
/// creation code followed by its constructor arguments and no "to", so the
/// constructor runs and its return data is the call's output (the
/// "deployless" check of ERC-6492).
/// @notice The output is one byte: 0x01 when the wallet accepts the
/// signature (ERC-1271 magic value, exactly 32 bytes returned), 0x00 when
/// it does not, 0x02 when the wallet still has no code after the factory
/// call. Nothing is ever deployed or changed: eth_call discards the state.
contract Validator {
    bytes4 private constant MAGIC = 0x1626ba7e; // isValidSignature(bytes32,bytes)

    constructor(address wallet, bytes32 hash, address factory, bytes memory factoryCalldata, bytes memory signature) {
        uint8 status = 2;
        // ERC-6492: a wallet that is deployed is asked first, so that a
        // wallet whose owners changed since the signature is judged by its
        // current code. A wallet that has no code, or that rejects the
        // signature, gets the factory call (deploy or "prepare") and is
        // asked again.
        if (wallet.code.length != 0 && accepts(wallet, hash, signature)) {
            status = 1;
        } else {
            (bool called,) = factory.call(factoryCalldata);
            called; // a failed factory call shows as missing code or a refusal
            if (wallet.code.length != 0) {
                status = accepts(wallet, hash, signature) ? 1 : 0;
            }
        }
        assembly {
            mstore8(0, status)
            return(0, 1)
        }
    }

    /// @dev accepts reports whether wallet returns exactly the 32-byte
    /// ERC-1271 magic value for hash and signature.
    function accepts(address wallet, bytes32 hash, bytes memory signature) private view returns (bool) {
        (bool ok, bytes memory ret) = wallet.staticcall(abi.encodeWithSelector(MAGIC, hash, signature));
        return ok && ret.length == 32 && bytes32(ret) == bytes32(MAGIC);
    }
}
