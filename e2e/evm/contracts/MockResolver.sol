pragma solidity 0.8.37;

/// @title MockResolver is a test ENS resolver with settable addr (EIP-137)
/// and name (reverse) records. A node marked offchain answers addr with the
/// EIP-3668 OffchainLookup revert, as a CCIP-Read resolver does.
contract MockResolver {
    mapping(bytes32 => address) private addrs;
    mapping(bytes32 => string) private names;
    mapping(bytes32 => bool) private offchain;

    error OffchainLookup(address sender, string[] urls, bytes callData, bytes4 callbackFunction, bytes extraData);

    function setAddr(bytes32 node, address a) external {
        addrs[node] = a;
    }

    function setName(bytes32 node, string calldata n) external {
        names[node] = n;
    }

    function setOffchain(bytes32 node) external {
        offchain[node] = true;
    }

    function addr(bytes32 node) external view returns (address) {
        if (offchain[node]) {
            string[] memory urls = new string[](1);
            urls[0] = "https://gateway.invalid/{sender}/{data}.json";
            revert OffchainLookup(address(this), urls, msg.data, this.addr.selector, "");
        }
        return addrs[node];
    }

    function name(bytes32 node) external view returns (string memory) {
        return names[node];
    }
}
