//! `joined.json`: the operators this device consented to join as an additional master (when it
//! approved its own `agentkeys device add`). `init` adopts a chain entry under another
//! operator than the device's own only when it is listed here. Public data only.

use std::path::Path;

use agentkeys_core::error::ApiError;
use agentkeys_core::identity::Omni;

const FILE: &str = "joined.json";

pub fn load(data_dir: &Path) -> Result<Vec<Omni>, ApiError> {
    Ok(super::read_json(&data_dir.join(FILE))?.unwrap_or_default())
}

pub fn contains(data_dir: &Path, operator: &Omni) -> Result<bool, ApiError> {
    Ok(load(data_dir)?.contains(operator))
}

pub fn add(data_dir: &Path, operator: &Omni) -> Result<(), ApiError> {
    let mut list = load(data_dir)?;
    if !list.contains(operator) {
        list.push(*operator);
        super::write_json(&data_dir.join(FILE), &list)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remembers_each_operator_once() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = (Omni([1; 32]), Omni([2; 32]));
        assert!(!contains(dir.path(), &a).unwrap());
        add(dir.path(), &a).unwrap();
        add(dir.path(), &a).unwrap();
        add(dir.path(), &b).unwrap();
        assert_eq!(load(dir.path()).unwrap(), vec![a, b]);
        assert!(contains(dir.path(), &b).unwrap());
    }
}
