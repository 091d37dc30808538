//! The audit Merkle tree, bit-for-bit the one `CredentialAudit.verifyEntryInRoot` checks
//! (ARCHITECTURE §9):
//! leaf = keccak256(0x00 ‖ record hash), node = keccak256(0x01 ‖ min(a, b) ‖ max(a, b)),
//! and an odd node at the end of a level is promoted unchanged.
//!
//! Sorted pairs make a proof a bare list of siblings (no left/right bits), and a promoted node
//! simply contributes no sibling at that level.

use alloy::primitives::{keccak256, B256};

const LEAF_PREFIX: u8 = 0x00;
const NODE_PREFIX: u8 = 0x01;

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum MerkleError {
    /// A batch with no records has no root; the contract refuses `count == 0` as well.
    #[error("a Merkle tree needs at least one record")]
    Empty,
}

/// The leaf for one audit record hash.
pub fn leaf_hash(record_hash: B256) -> B256 {
    let mut buf = [0u8; 33];
    buf[0] = LEAF_PREFIX;
    buf[1..].copy_from_slice(record_hash.as_slice());
    keccak256(buf)
}

/// The parent of two nodes, independent of their order.
pub fn node_hash(a: B256, b: B256) -> B256 {
    let (lo, hi) = if a <= b { (a, b) } else { (b, a) };
    let mut buf = [0u8; 65];
    buf[0] = NODE_PREFIX;
    buf[1..33].copy_from_slice(lo.as_slice());
    buf[33..].copy_from_slice(hi.as_slice());
    keccak256(buf)
}

/// Recomputes the root from a record hash and its proof, as the contract does.
pub fn root_from_proof(record_hash: B256, proof: &[B256]) -> B256 {
    proof.iter().fold(leaf_hash(record_hash), |node, sibling| {
        node_hash(node, *sibling)
    })
}

/// True when `record_hash` with `proof` leads to `root`.
pub fn verify(root: B256, record_hash: B256, proof: &[B256]) -> bool {
    root_from_proof(record_hash, proof) == root
}

/// A whole tree kept in memory, so proofs for every record of a batch come from one build.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MerkleTree {
    /// `levels[0]` are the leaves, the last level holds the root alone.
    levels: Vec<Vec<B256>>,
    root: B256,
}

impl MerkleTree {
    pub fn new(record_hashes: &[B256]) -> Result<Self, MerkleError> {
        let mut level: Vec<B256> = record_hashes.iter().copied().map(leaf_hash).collect();
        let mut levels = Vec::new();
        let root = loop {
            match level.as_slice() {
                [] => return Err(MerkleError::Empty),
                [root] => {
                    let root = *root;
                    levels.push(level);
                    break root;
                }
                _ => {
                    let next = level
                        .chunks(2)
                        // A pair becomes its parent; a lone last node is promoted as is.
                        .filter_map(|pair| pair.iter().copied().reduce(node_hash))
                        .collect();
                    levels.push(std::mem::replace(&mut level, next));
                }
            }
        };
        Ok(Self { levels, root })
    }

    pub fn root(&self) -> B256 {
        self.root
    }

    /// Number of records (leaves); never zero.
    pub fn len(&self) -> usize {
        self.levels.first().map_or(0, Vec::len)
    }

    /// Always false: an empty batch cannot be built. Present for API symmetry with `len`.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The siblings from the leaf at `index` up to the root, or `None` past the last record.
    pub fn proof(&self, index: usize) -> Option<Vec<B256>> {
        if index >= self.len() {
            return None;
        }
        let mut proof = Vec::new();
        let mut i = index;
        // The root level has no siblings, so stop one short of it.
        for level in &self.levels[..self.levels.len() - 1] {
            if let Some(sibling) = level.get(i ^ 1) {
                proof.push(*sibling);
            }
            i /= 2;
        }
        Some(proof)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn records(n: u8) -> Vec<B256> {
        (0..n).map(|i| keccak256([i])).collect()
    }

    #[test]
    fn empty_batch_is_refused() {
        assert_eq!(MerkleTree::new(&[]), Err(MerkleError::Empty));
    }

    #[test]
    fn single_record_root_is_its_leaf() {
        let r = records(1);
        let tree = MerkleTree::new(&r).unwrap();
        assert_eq!(tree.root(), leaf_hash(r[0]));
        assert_eq!(tree.proof(0), Some(vec![]));
        assert_eq!(tree.proof(1), None);
    }

    #[test]
    fn three_records_promote_the_odd_leaf() {
        let r = records(3);
        let tree = MerkleTree::new(&r).unwrap();
        let left = node_hash(leaf_hash(r[0]), leaf_hash(r[1]));
        assert_eq!(tree.root(), node_hash(left, leaf_hash(r[2])));
        assert_eq!(tree.proof(2), Some(vec![left]));
    }

    #[test]
    fn node_hash_ignores_order() {
        let r = records(2);
        assert_eq!(node_hash(r[0], r[1]), node_hash(r[1], r[0]));
    }

    #[test]
    fn every_proof_verifies_and_a_foreign_record_does_not() {
        for n in 1..=17u8 {
            let r = records(n);
            let tree = MerkleTree::new(&r).unwrap();
            assert_eq!(tree.len(), usize::from(n));
            for (i, h) in r.iter().enumerate() {
                let proof = tree.proof(i).unwrap();
                assert!(verify(tree.root(), *h, &proof), "n={n} i={i}");
                assert!(
                    !verify(tree.root(), keccak256(b"other"), &proof),
                    "n={n} i={i}"
                );
            }
        }
    }

    #[test]
    fn a_node_cannot_pass_as_a_record() {
        // Without the 0x00/0x01 prefixes an inner node could be presented as a leaf.
        let r = records(4);
        let tree = MerkleTree::new(&r).unwrap();
        let inner = node_hash(leaf_hash(r[0]), leaf_hash(r[1]));
        let sibling = node_hash(leaf_hash(r[2]), leaf_hash(r[3]));
        assert!(!verify(tree.root(), inner, &[sibling]));
    }
}
