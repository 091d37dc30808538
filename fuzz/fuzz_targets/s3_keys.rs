//! The embedded S3 store's object keys, bucket names and on-disk file names: a key that is
//! accepted maps to one file name and back, and no directory entry decodes to a key that
//! would not map to that same entry.
//!
//! The relay's own source file is compiled in, so the relay crate (and its sanitizer build)
//! is not needed.
#![no_main]

#[path = "../../relay/src/s3server/store/names.rs"]
#[allow(dead_code)]
mod names;

use libfuzzer_sys::fuzz_target;
use names::{file_name, parse_file_name, validate_bucket, validate_key, FileName, MAX_KEY_LEN};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if validate_bucket(text) {
        assert!(!text.contains(['/', '\\']) && !text.starts_with('.'));
    }
    if validate_key(text).is_ok() {
        assert!(text.len() <= MAX_KEY_LEN);
        let name = file_name(text);
        assert!(name.len() <= 255 && !name.contains('/') && name != "." && name != "..");
        match parse_file_name(&name) {
            Some(FileName::Escaped(key)) => assert_eq!(key, text),
            Some(FileName::Hashed) => assert!(name.starts_with("h-")),
            None => panic!("{name} does not parse back"),
        }
    }
    if let Some(FileName::Escaped(key)) = parse_file_name(text) {
        assert!(validate_key(&key).is_ok());
        assert_eq!(file_name(&key), text, "two names for one key");
    }
});
