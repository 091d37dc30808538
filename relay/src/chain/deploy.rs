//! Deploys the committed contracts in dependency order, the same way on every adapter:
//! P256Verifier → K11Verifier → SidecarRegistry → AgentKeysScope, K3EpochCounter (governed by
//! the relay's submitter) and CredentialAudit (owned by it, with the submitter authorised as
//! the audit relay).

use super::{ChainError, Contracts};
use agentkeys_contracts::bindings::{
    AgentKeysScope, CredentialAudit, K11Verifier, K3EpochCounter, P256Verifier, SidecarRegistry,
};
use alloy::primitives::{Address, Bytes};
use alloy::sol_types::{SolCall, SolConstructor};
use async_trait::async_trait;

/// What a deployment needs from an adapter: contract creation and a plain call, both from
/// the relay's submitter and both waited for.
#[async_trait]
pub trait Deployer: Send {
    async fn create(&mut self, init_code: Bytes) -> Result<Address, ChainError>;
    async fn send(&mut self, to: Address, data: Bytes) -> Result<(), ChainError>;
}

fn init_code(bytecode: &Bytes, ctor_args: Vec<u8>) -> Bytes {
    [bytecode.as_ref(), ctor_args.as_slice()].concat().into()
}

pub async fn deploy_all(d: &mut dyn Deployer, owner: Address) -> Result<Contracts, ChainError> {
    let p256_verifier = d.create(P256Verifier::BYTECODE.clone()).await?;
    let k11_verifier = d
        .create(init_code(
            &K11Verifier::BYTECODE,
            K11Verifier::constructorCall {
                p256_: p256_verifier,
            }
            .abi_encode(),
        ))
        .await?;
    let registry = d
        .create(init_code(
            &SidecarRegistry::BYTECODE,
            SidecarRegistry::constructorCall { k11_: k11_verifier }.abi_encode(),
        ))
        .await?;
    let scope = d
        .create(init_code(
            &AgentKeysScope::BYTECODE,
            AgentKeysScope::constructorCall {
                registry_: registry,
            }
            .abi_encode(),
        ))
        .await?;
    let epoch = d
        .create(init_code(
            &K3EpochCounter::BYTECODE,
            K3EpochCounter::constructorCall { governance: owner }.abi_encode(),
        ))
        .await?;
    let audit = d
        .create(init_code(
            &CredentialAudit::BYTECODE,
            CredentialAudit::constructorCall {
                owner_: owner,
                registry_: registry,
            }
            .abi_encode(),
        ))
        .await?;
    d.send(
        audit,
        CredentialAudit::setAuditRelayCall {
            relay: owner,
            authorized: true,
        }
        .abi_encode()
        .into(),
    )
    .await?;
    Ok(Contracts {
        p256_verifier,
        k11_verifier,
        registry,
        scope,
        epoch,
        audit,
    })
}
