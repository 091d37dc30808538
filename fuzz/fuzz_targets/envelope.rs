//! The stored-object envelope: header parse, open under a fixed key and context, and the
//! parse → encode → seal → open round trip.
#![no_main]

use agentkeys_core::envelope::{open, seal_with_nonce, Dek, EnvelopeHeader, ObjectContext};
use agentkeys_core::names::DataClass;
use agentkeys_fuzz::{actor, operator};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let dek = Dek::from_bytes([0x55; 32]);
    let (operator, actor) = (operator(), actor());
    let ctx = ObjectContext {
        data_class: DataClass::Credentials,
        operator: &operator,
        actor: &actor,
        name: "openrouter",
    };
    // Without the key nothing opens; the point is that no input panics on the way.
    let _ = open(&dek, data, &ctx);

    let Ok((header, len)) = EnvelopeHeader::parse(data) else {
        return;
    };
    // The header's bytes are exactly its encoding, and room remains for nonce and tag.
    assert_eq!(header.encode(), data[..len]);
    assert!(data.len() >= len + 12 + 16);

    let plaintext = &data[len..];
    let sealed = seal_with_nonce(&dek, &header, &ctx, plaintext, &[0x66; 12]);
    assert_eq!(EnvelopeHeader::parse(&sealed), Ok((header, len)));
    let opened = open(&dek, &sealed, &ctx).unwrap_or_else(|e| panic!("own envelope: {e}"));
    assert_eq!(opened.as_slice(), plaintext);
    // The same bytes under another name, class or actor never open.
    let moved = ObjectContext {
        name: "anthropic",
        ..ctx
    };
    assert!(open(&dek, &sealed, &moved).is_err());
    let memory = ObjectContext {
        data_class: DataClass::Memory,
        ..ctx
    };
    assert!(open(&dek, &sealed, &memory).is_err());
    let other = ObjectContext {
        actor: &operator,
        ..ctx
    };
    assert!(open(&dek, &sealed, &other).is_err());
});
