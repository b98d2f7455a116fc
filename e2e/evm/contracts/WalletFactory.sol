pragma solidity 0.8.37;

import "./OwnedWallet.sol";

/// @title WalletFactory deploys OwnedWallets with CREATE2, so that a
/// wallet's address is known before it exists (ERC-6492's counterfactual
/// wallets).
contract WalletFactory {
    function deploy(address owner, bytes32 salt) external returns (address) {
        return address(new OwnedWallet{salt: salt}(owner));
    }
}
