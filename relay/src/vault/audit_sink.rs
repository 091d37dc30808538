//! Where the vault writes audit records: the audit log in this process, or the audit relay
//! over HTTP. Either way the call returns only once the record is durable.

use crate::audit::{AuditError, AuditEvent, AuditLog};
use crate::internal::InternalClient;
use agentkeys_core::{routes, ApiError, ErrorCode};
use async_trait::async_trait;

#[async_trait]
pub trait AuditSink: Send + Sync {
    async fn record(&self, event: AuditEvent) -> Result<(), ApiError>;
    async fn not_ready_reason(&self) -> Option<String>;
}

pub struct LocalAudit(pub AuditLog);

pub fn audit_error(e: AuditError) -> ApiError {
    match e {
        AuditError::Invalid(m) => {
            ApiError::new(ErrorCode::BadRequest, format!("audit record refused: {m}"))
        }
        other => {
            tracing::error!(error = %other, "audit log cannot write");
            ApiError::from_code(ErrorCode::AuditUnavailable)
        }
    }
}

#[async_trait]
impl AuditSink for LocalAudit {
    async fn record(&self, event: AuditEvent) -> Result<(), ApiError> {
        self.0.append(event).await.map(|_| ()).map_err(audit_error)
    }

    async fn not_ready_reason(&self) -> Option<String> {
        self.0.not_ready_reason()
    }
}

pub struct RemoteAudit(pub InternalClient);

#[async_trait]
impl AuditSink for RemoteAudit {
    async fn record(&self, event: AuditEvent) -> Result<(), ApiError> {
        let _: serde_json::Value =
            self.0
                .post(routes::AUDIT_APPEND, &event)
                .await
                .map_err(|e| {
                    if e.code == ErrorCode::RelayUnreachable {
                        ApiError::new(ErrorCode::AuditUnavailable, e.message)
                    } else {
                        e
                    }
                })?;
        Ok(())
    }

    async fn not_ready_reason(&self) -> Option<String> {
        None
    }
}
