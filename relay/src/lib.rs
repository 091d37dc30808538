//! AgentKeys relay: broker, signer, vault and audit roles in one binary, with an embedded S3
//! server so that one storage code path (`aws-sdk-s3`) serves every deployment.

pub mod app;
pub mod approvals;
pub mod audit;
pub mod broker;
pub mod chain;
pub mod cloud;
pub mod config;
pub mod health;
pub mod http;
pub mod internal;
pub mod isolation;
pub mod keys;
pub mod s3server;
pub mod signer;
pub mod storage;
pub mod vault;
