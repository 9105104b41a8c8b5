// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {ERC721} from "@openzeppelin/contracts/token/ERC721/ERC721.sol";
import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";

/// ERC-5192: minimal soulbound NFTs.
interface IERC5192 {
    event Locked(uint256 tokenId);
    event Unlocked(uint256 tokenId);
    function locked(uint256 tokenId) external view returns (bool);
}

/// A runner's reputation, anchored on-chain: one soulbound token per runner (its id is
/// uint256(keccak256(runner id)), so minting twice is impossible), minted by the platform when the
/// runner first reaches Verified, its score, tier and receipt-chain head updated in batches, and
/// burned by the platform on a confirmed cheat. Transfers and approvals revert.
contract TrdReputation is ERC721, AccessControl, IERC5192 {
    bytes32 public constant PLATFORM_ROLE = keccak256("PLATFORM_ROLE");

    struct Reputation {
        /// Basis points (0..10000), as the API's reputation score × 10000.
        uint32 score;
        /// 0 probation, 1 verified, 2 trusted.
        uint8 tier;
        /// The head CID's digest of the runner's receipt chain.
        bytes32 receiptHead;
        uint64 updatedAt;
    }

    struct Update {
        uint256 tokenId;
        uint32 score;
        uint8 tier;
        bytes32 receiptHead;
    }

    mapping(uint256 => Reputation) private _reputation;

    error Soulbound();
    /// One token per runner: a retried mint finds it there.
    error AlreadyMinted(uint256 tokenId);
    error ScoreOutOfRange(uint32 score);

    event ReputationUpdated(uint256 indexed tokenId, uint32 score, uint8 tier, bytes32 receiptHead);
    event Slashed(uint256 indexed tokenId, bytes32 evidence);

    constructor(address platform) ERC721("TRD Runner Reputation", "TRDREP") {
        _grantRole(DEFAULT_ADMIN_ROLE, platform);
        _grantRole(PLATFORM_ROLE, platform);
    }

    function mint(address holder, uint256 tokenId, uint32 score, uint8 tier, bytes32 receiptHead) external onlyRole(PLATFORM_ROLE) {
        if (score > 10_000) revert ScoreOutOfRange(score);
        if (_ownerOf(tokenId) != address(0)) revert AlreadyMinted(tokenId);
        _mint(holder, tokenId);
        _reputation[tokenId] = Reputation(score, tier, receiptHead, uint64(block.timestamp));
        emit Locked(tokenId);
        emit ReputationUpdated(tokenId, score, tier, receiptHead);
    }

    /// Many runners in one transaction; an unchanged one costs only its read.
    function updateBatch(Update[] calldata updates) external onlyRole(PLATFORM_ROLE) {
        for (uint256 i = 0; i < updates.length; i++) {
            Update calldata u = updates[i];
            _requireOwned(u.tokenId);
            if (u.score > 10_000) revert ScoreOutOfRange(u.score);
            Reputation storage r = _reputation[u.tokenId];
            if (r.score == u.score && r.tier == u.tier && r.receiptHead == u.receiptHead) continue;
            r.score = u.score;
            r.tier = u.tier;
            r.receiptHead = u.receiptHead;
            r.updatedAt = uint64(block.timestamp);
            emit ReputationUpdated(u.tokenId, u.score, u.tier, u.receiptHead);
        }
    }

    function slash(uint256 tokenId, bytes32 evidence) external onlyRole(PLATFORM_ROLE) {
        _burn(tokenId);
        delete _reputation[tokenId];
        emit Slashed(tokenId, evidence);
    }

    function reputationOf(uint256 tokenId) external view returns (Reputation memory) {
        _requireOwned(tokenId);
        return _reputation[tokenId];
    }

    function locked(uint256 tokenId) external view returns (bool) {
        _requireOwned(tokenId);
        return true;
    }

    /// Minting (from zero) and burning (to zero) only.
    function _update(address to, uint256 tokenId, address auth) internal override returns (address) {
        if (_ownerOf(tokenId) != address(0) && to != address(0)) revert Soulbound();
        return super._update(to, tokenId, auth);
    }

    function approve(address, uint256) public pure override {
        revert Soulbound();
    }

    function setApprovalForAll(address, bool) public pure override {
        revert Soulbound();
    }

    function supportsInterface(bytes4 interfaceId) public view override(ERC721, AccessControl) returns (bool) {
        return interfaceId == type(IERC5192).interfaceId || super.supportsInterface(interfaceId);
    }
}
