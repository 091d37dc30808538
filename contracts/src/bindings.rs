//! `sol!` bindings read from `contracts/artifacts/*.json`. The artifacts carry the bytecode too,
//! so each module exposes `BYTECODE` for deployment alongside the call and event types.
//! `check-artifacts.sh` keeps those files in step with `contracts/src/*.sol`.

alloy::sol!(
    #[derive(Debug, PartialEq, Eq)]
    K3EpochCounter,
    "artifacts/K3EpochCounter.json"
);

alloy::sol!(
    #[derive(Debug, PartialEq, Eq)]
    CredentialAudit,
    "artifacts/CredentialAudit.json"
);

alloy::sol!(
    #[derive(Debug, PartialEq, Eq)]
    P256Verifier,
    "artifacts/P256Verifier.json"
);

alloy::sol!(
    #[derive(Debug, PartialEq, Eq)]
    K11Verifier,
    "artifacts/K11Verifier.json"
);

alloy::sol!(
    #[derive(Debug, PartialEq, Eq)]
    SidecarRegistry,
    "artifacts/SidecarRegistry.json"
);

alloy::sol!(
    #[derive(Debug, PartialEq, Eq)]
    AgentKeysScope,
    "artifacts/AgentKeysScope.json"
);
