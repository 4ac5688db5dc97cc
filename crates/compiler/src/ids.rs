//! Node ids derived from parent ids and names with MD5, as the reference compiler derives them (section 5.2).

use md5::{Digest, Md5};

fn digest_id(bytes: &[u8]) -> u64 {
    let digest = Md5::digest(bytes);
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    u64::from_be_bytes(first) | (1 << 63)
}

/// Id of a declaration named `name` inside the node `parent_id`.
pub fn child_id(parent_id: u64, name: &str) -> u64 {
    let mut bytes = parent_id.to_le_bytes().to_vec();
    bytes.extend_from_slice(name.as_bytes());
    digest_id(&bytes)
}

/// Id of the group or named union at position `index` of its parent's field list.
pub fn group_id(parent_id: u64, index: u16) -> u64 {
    let mut bytes = parent_id.to_le_bytes().to_vec();
    bytes.extend_from_slice(&index.to_le_bytes());
    digest_id(&bytes)
}

/// Id of the auto-generated parameter (or result) struct of a method.
pub fn param_struct_id(interface_id: u64, method_ordinal: u16, is_results: bool) -> u64 {
    let mut bytes = interface_id.to_le_bytes().to_vec();
    bytes.extend_from_slice(&method_ordinal.to_le_bytes());
    bytes.push(u8::from(is_results));
    digest_id(&bytes)
}

/// Ids must have their top bit set; lower ids were reserved by early versions.
pub fn is_valid_id(id: u64) -> bool {
    id & (1 << 63) != 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spec_vectors() {
        assert_eq!(child_id(0xd5a2c5c3a0b9e8f1, "Foo"), 0xb558859df32e5dc8);
        assert_eq!(child_id(0xd5a2c5c3a0b9e8f1, "Qux"), 0x8ff3daea8e96cfa9);
        assert_eq!(child_id(0xd5a2c5c3a0b9e8f1, "E"), 0xcf452360b95228dc);
        assert_eq!(child_id(0xd5a2c5c3a0b9e8f1, "a"), 0xe49b62ca7bb83eca);
        assert_eq!(child_id(0xb558859df32e5dc8, "Nested"), 0xe81dd423d68b5404);
        assert_eq!(child_id(0xa93fc509624c72d9, "Node"), 0xe682ab4cf923a417);
        assert_eq!(group_id(0xb558859df32e5dc8, 2), 0xd5fac80352f4d2ee);
        assert_eq!(group_id(0xe682ab4cf923a417, 7), 0x9ea0b19b37fb4435);
        assert_eq!(
            param_struct_id(0x88eb12a0e0af92b2, 0, false),
            0xb874edc0d559b391
        );
        assert_eq!(
            param_struct_id(0x88eb12a0e0af92b2, 1, true),
            0x9bf141df4247d52f
        );
        assert_eq!(
            param_struct_id(0x9e0651d38966e827, 0, true),
            0xfa2d3eb7eb8cdf76
        );
    }
}
