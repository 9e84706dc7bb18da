//! Canonical JSON: the one writer through which every manifest, index and config is serialized.
//!
//! Object keys are sorted (serde_json's `Value` map is a `BTreeMap`), no insignificant whitespace,
//! so the same value always gives the same bytes and the same digest. Bytes read from elsewhere
//! (a pulled manifest) are never re-serialized: keep and hash the raw bytes.

use serde::Serialize;

/// Serializes `value` canonically (sorted keys, compact).
pub fn to_canonical_vec<T: Serialize>(value: &T) -> Result<Vec<u8>, serde_json::Error> {
    let v = serde_json::to_value(value)?;
    serde_json::to_vec(&v)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[test]
    fn keys_sorted_whatever_the_map() {
        let mut m = HashMap::new();
        for k in ["zeta", "alpha", "mid", "beta"] {
            m.insert(k, 1);
        }
        assert_eq!(
            to_canonical_vec(&m).unwrap(),
            br#"{"alpha":1,"beta":1,"mid":1,"zeta":1}"#
        );
    }
}
