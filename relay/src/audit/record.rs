//! Validation of events before they reach the writer.

use super::{AuditError, AuditEvent};

/// Longest accepted field, in bytes. Keeps rows small and bounds what a caller can smuggle
/// into the log.
pub const MAX_FIELD_BYTES: usize = 256;

pub(super) fn validate(event: &AuditEvent) -> Result<(), AuditError> {
    let fields = [
        ("operator", &event.operator),
        ("device", &event.device),
        ("actor", &event.actor),
        ("service", &event.service),
        ("op", &event.op),
        ("data_class", &event.data_class),
        ("outcome", &event.outcome),
        ("cap_jti_hash", &event.cap_jti_hash),
    ];
    for (name, value) in fields {
        if value.is_empty() {
            return Err(AuditError::Invalid(format!("{name} is empty")));
        }
        if value.len() > MAX_FIELD_BYTES {
            return Err(AuditError::Invalid(format!(
                "{name} is longer than {MAX_FIELD_BYTES} bytes"
            )));
        }
        // Control characters would let a field forge line breaks or escape sequences in
        // anything that later renders the log.
        if value.chars().any(char::is_control) {
            return Err(AuditError::Invalid(format!(
                "{name} contains a control character"
            )));
        }
    }
    // Records are batched and anchored per operator, under the operator's omni on chain.
    if super::chain::decode_hash(&event.operator).is_none() {
        return Err(AuditError::Invalid(
            "operator must be an operator omni (64 lowercase hex characters)".into(),
        ));
    }
    // The one field meant to identify a capability must be a digest, so a caller cannot
    // store a raw jti or token there by mistake.
    if super::chain::decode_hash(&event.cap_jti_hash).is_none() {
        return Err(AuditError::Invalid(
            "cap_jti_hash must be a SHA-256 digest as 64 lowercase hex characters".into(),
        ));
    }
    Ok(())
}
