//! Service names, memory namespaces and agent labels, which become S3 keys, token claims and
//! associated data: whatever is accepted cannot change an S3 key's path or glob.
#![no_main]

use agentkeys_core::envelope::{object_key, object_prefix};
use agentkeys_core::identity::Omni;
use agentkeys_core::names::{validate_agent_label, validate_object_name, DataClass};
use agentkeys_fuzz::{actor, operator};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(name) = std::str::from_utf8(data) else {
        return;
    };
    let _ = DataClass::parse(name);
    if validate_object_name(name).is_ok() {
        assert!((1..=64).contains(&name.len()));
        assert!(!name.contains(['/', '\\', '*', '?']) && !name.contains(".."));
        for class in [DataClass::Credentials, DataClass::Memory] {
            let key = object_key(class, &actor(), name);
            let prefix = object_prefix(class, &actor());
            // The object stays directly under its actor's prefix: one more segment, no more.
            let rest = key.strip_prefix(&prefix).unwrap_or_else(|| panic!("{key}"));
            assert_eq!(rest, format!("{name}.enc"));
            assert!(!rest.contains('/'));
        }
    }
    if let Ok(()) = validate_agent_label(name) {
        assert!((1..=32).contains(&name.len()));
        // Any accepted label derives an actor.
        let derived: Result<Omni, _> = Omni::agent(&operator(), name, 1);
        assert!(derived.is_ok());
    }
});
