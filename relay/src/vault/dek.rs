//! Data keys for the direct backend, whose caller seals and opens objects itself: a fresh key
//! wrapped for exactly one object, and the key of an object the caller read. Every key is bound
//! to the capability's operator, actor, class and service (the object name), so a capability
//! for one object never yields another's key. Version 1 keys bind neither operator nor name;
//! they are never released to a caller, only opened by the vault's own fetch.

use super::ops::same_service;
use super::Vault;
use crate::http::{decode_json, json_ok};
use crate::signer::DekSigner;
use agentkeys_core::b64;
use agentkeys_core::cap::CapClaims;
use agentkeys_core::envelope::{Dek, ObjectContext, VERSION, VERSION_V1};
use agentkeys_core::wire::{DekUnwrapRequest, DekUnwrapResponse, DekWrapRequest, DekWrapResponse};
use agentkeys_core::{ApiError, ErrorCode};
use axum::response::Response;

/// The object a capability names: its operator, actor, class and `name`.
pub(super) fn object_of<'a>(c: &'a CapClaims, name: &'a str) -> ObjectContext<'a> {
    ObjectContext {
        data_class: c.dc,
        operator: &c.opr,
        actor: &c.sub,
        name,
    }
}

/// `dek-wrap`: a fresh data key and its wrapping, for a `store` capability's object.
pub(super) async fn wrap_route(
    v: &Vault,
    c: &CapClaims,
    body: &[u8],
) -> Result<Response, ApiError> {
    let req = decode_json(body).map_err(|f| f.0)?;
    Ok(json_ok(&wrap(v.signer.as_ref(), c, req).await?))
}

/// `dek-unwrap`: the data key of a `fetch` capability's object, read by the caller itself.
pub(super) async fn unwrap_route(
    v: &Vault,
    c: &CapClaims,
    body: &[u8],
) -> Result<Response, ApiError> {
    let req = decode_json(body).map_err(|f| f.0)?;
    Ok(json_ok(&unwrap(v.signer.as_ref(), c, req).await?))
}

async fn wrap(
    signer: &dyn DekSigner,
    c: &CapClaims,
    req: DekWrapRequest,
) -> Result<DekWrapResponse, ApiError> {
    same_service(c, &req.name)?;
    if req.version != VERSION {
        return Err(ApiError::new(
            ErrorCode::BadRequest,
            format!("data keys are wrapped only for envelope version {VERSION}"),
        ));
    }
    let dek = Dek::generate();
    let (epoch, wrapped) = signer.wrap(&object_of(c, &req.name), &dek).await?;
    Ok(DekWrapResponse {
        epoch,
        wrapped_dek: b64::encode(&wrapped),
        dek: b64::encode(dek.as_bytes()),
    })
}

async fn unwrap(
    signer: &dyn DekSigner,
    c: &CapClaims,
    req: DekUnwrapRequest,
) -> Result<DekUnwrapResponse, ApiError> {
    same_service(c, &req.name)?;
    match req.version {
        VERSION => {}
        VERSION_V1 => {
            return Err(ApiError::new(
                ErrorCode::EnvelopeLegacyFormat,
                format!(
                    "'{}' is stored in envelope version 1; read it through the vault",
                    req.name
                ),
            ))
        }
        other => {
            return Err(ApiError::new(
                ErrorCode::BadRequest,
                format!("unsupported envelope version {other}"),
            ))
        }
    }
    let wrapped = b64::decode(&req.wrapped_dek)
        .ok_or_else(|| ApiError::new(ErrorCode::BadRequest, "wrapped_dek is not base64"))?;
    let dek = signer
        .unwrap(VERSION, &object_of(c, &req.name), req.epoch, &wrapped)
        .await
        .map_err(|e| match e.code {
            ErrorCode::UnwrapFailed => ApiError::new(
                ErrorCode::DekContextMismatch,
                format!(
                    "the data key was not wrapped for '{}' of this operator, actor and class",
                    req.name
                ),
            ),
            _ => e,
        })?;
    Ok(DekUnwrapResponse {
        dek: b64::encode(dek.as_bytes()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::signer::{K3Store, LocalSigner};
    use agentkeys_core::cap::Confirmation;
    use agentkeys_core::device_key::DeviceKey;
    use agentkeys_core::envelope::{self, EnvelopeHeader};
    use agentkeys_core::identity::Omni;
    use agentkeys_core::kek;
    use agentkeys_core::names::{DataClass, Op};
    use std::sync::Arc;

    struct Setup {
        _dir: tempfile::TempDir,
        signer: LocalSigner,
        k3: [u8; 32],
    }

    /// A signer whose epoch 1 is the K3 of the known-answer vectors in `docs/formats.md`.
    fn setup() -> Setup {
        let dir = tempfile::tempdir().unwrap();
        let k3_dir = dir.path().join(crate::signer::K3_DIR);
        crate::keys::private_dir(&k3_dir).unwrap();
        let line = format!("agentkeys-k3-v1 1 {}\n", hex::encode([0x33u8; 32]));
        crate::keys::write_secret_file(&k3_dir.join("epoch-1.key"), line.as_bytes()).unwrap();
        let store = K3Store::open(dir.path()).unwrap();
        let k3 = *store.current().1;
        assert_eq!(k3, [0x33; 32]);
        Setup {
            _dir: dir,
            signer: LocalSigner::new(Arc::new(store)),
            k3,
        }
    }

    fn cap(op: Op, opr: Omni, actor: Omni, svc: &str) -> CapClaims {
        let addr = DeviceKey::generate().address();
        CapClaims {
            iss: "http://127.0.0.1:8787".into(),
            aud: "agentkeys-vault".into(),
            sub: actor,
            opr,
            op,
            dc: DataClass::Credentials,
            svc: svc.into(),
            dkh: format!("0x{}", hex::encode(addr.device_key_hash())),
            epoch: 1,
            iat: 0,
            exp: u64::MAX,
            jti: "AAECAwQFBgcICQoLDA0ODw".into(),
            cnf: Confirmation { eth_addr: addr },
        }
    }

    const OP: Omni = Omni([1; 32]);
    const AGENT: Omni = Omni([2; 32]);

    async fn wrapped_for(s: &Setup, opr: Omni, actor: Omni, name: &str) -> DekWrapResponse {
        let store = cap(Op::Store, opr, actor, name);
        let req = DekWrapRequest {
            name: name.into(),
            version: VERSION,
        };
        wrap(&s.signer, &store, req).await.unwrap()
    }

    fn unwrap_req(name: &str, w: &DekWrapResponse) -> DekUnwrapRequest {
        DekUnwrapRequest {
            name: name.into(),
            version: VERSION,
            epoch: w.epoch,
            wrapped_dek: w.wrapped_dek.clone(),
        }
    }

    async fn refusal(s: &Setup, c: &CapClaims, req: DekUnwrapRequest) -> ErrorCode {
        unwrap(&s.signer, c, req).await.unwrap_err().code
    }

    #[tokio::test]
    async fn a_key_comes_back_only_for_its_own_object() {
        let s = setup();
        let w = wrapped_for(&s, OP, AGENT, "openrouter").await;
        let own = cap(Op::Fetch, OP, AGENT, "openrouter");
        let back = unwrap(&s.signer, &own, unwrap_req("openrouter", &w))
            .await
            .unwrap();
        assert_eq!(back.dek, w.dek);

        // A fetch capability for another service: naming the key's object is refused by the
        // capability, naming its own service by the key.
        let other_service = cap(Op::Fetch, OP, AGENT, "anthropic");
        assert_eq!(
            refusal(&s, &other_service, unwrap_req("openrouter", &w)).await,
            ErrorCode::CapServiceMismatch
        );
        assert_eq!(
            refusal(&s, &other_service, unwrap_req("anthropic", &w)).await,
            ErrorCode::DekContextMismatch
        );
        // Another actor of the operator, and another operator with the same actor value.
        let other_actor = cap(Op::Fetch, OP, Omni([3; 32]), "openrouter");
        assert_eq!(
            refusal(&s, &other_actor, unwrap_req("openrouter", &w)).await,
            ErrorCode::DekContextMismatch
        );
        let other_operator = cap(Op::Fetch, Omni([4; 32]), AGENT, "openrouter");
        assert_eq!(
            refusal(&s, &other_operator, unwrap_req("openrouter", &w)).await,
            ErrorCode::DekContextMismatch
        );
        // The other class.
        let mut memory = own.clone();
        memory.dc = DataClass::Memory;
        assert_eq!(
            refusal(&s, &memory, unwrap_req("openrouter", &w)).await,
            ErrorCode::DekContextMismatch
        );
        // Another epoch than the one it was wrapped under.
        let mut req = unwrap_req("openrouter", &w);
        req.epoch = w.epoch + 1;
        assert_eq!(refusal(&s, &own, req).await, ErrorCode::EpochUnknown);
    }

    #[tokio::test]
    async fn a_store_capability_wraps_only_for_its_own_name_and_version() {
        let s = setup();
        let store = cap(Op::Store, OP, AGENT, "openrouter");
        let err = wrap(
            &s.signer,
            &store,
            DekWrapRequest {
                name: "anthropic".into(),
                version: VERSION,
            },
        )
        .await
        .unwrap_err();
        assert_eq!(err.code, ErrorCode::CapServiceMismatch);
        let err = wrap(
            &s.signer,
            &store,
            DekWrapRequest {
                name: "openrouter".into(),
                version: VERSION_V1,
            },
        )
        .await
        .unwrap_err();
        assert_eq!(err.code, ErrorCode::BadRequest);
    }

    #[tokio::test]
    async fn a_version_1_key_is_never_released() {
        let s = setup();
        let dek = Dek::from_bytes([0x44; 32]);
        let v1 = kek::wrap_dek_v1_with_nonce(
            &s.k3,
            1,
            DataClass::Credentials,
            &AGENT,
            &dek,
            &[0x55; 12],
        );
        let own = cap(Op::Fetch, OP, AGENT, "openrouter");
        let req = |version| DekUnwrapRequest {
            name: "openrouter".into(),
            version,
            epoch: 1,
            wrapped_dek: b64::encode(&v1),
        };
        assert_eq!(
            refusal(&s, &own, req(VERSION_V1)).await,
            ErrorCode::EnvelopeLegacyFormat
        );
        // Relabelled as version 2 it does not open either.
        assert_eq!(
            refusal(&s, &own, req(VERSION)).await,
            ErrorCode::DekContextMismatch
        );
        assert_eq!(refusal(&s, &own, req(3)).await, ErrorCode::BadRequest);
        // The vault itself still opens it, for its own fetch.
        let back = s
            .signer
            .unwrap(VERSION_V1, &object_of(&own, "openrouter"), 1, &v1)
            .await
            .unwrap();
        assert_eq!(back.as_bytes(), dek.as_bytes());
    }

    /// The version 1 envelope vector of `docs/formats.md`, as an object stored before
    /// version 2 holds it, opens the way the vault's fetch opens it.
    #[tokio::test]
    async fn the_version_1_vector_opens_for_the_vault() {
        const ENVELOPE_V1: &str = "414b450100000001003c555555555555555555555555fc498f64fbcb78895cdd1c089a752f9ba4c9024e5ebdc4e1544a8a29f44ecfd825e4336e5ce1b8b3a33e3bf18064a43a66666666666666666666666699f8d7b666b8ed4e8583cd5a698dda99acf043329688e3";
        let s = setup();
        let stored = hex::decode(ENVELOPE_V1).unwrap();
        let (header, _) = EnvelopeHeader::parse(&stored).unwrap();
        let op = Omni::operator(&vector_device().address());
        let c = cap(Op::Fetch, op, op, "openrouter");
        let ctx = object_of(&c, "openrouter");
        let dek = s
            .signer
            .unwrap(header.version, &ctx, header.epoch, &header.wrapped_dek)
            .await
            .unwrap();
        assert_eq!(
            &envelope::open(&dek, &stored, &ctx).unwrap()[..],
            b"sk-test"
        );
    }

    fn vector_device() -> DeviceKey {
        let mut secret = [0u8; 32];
        hex::decode_to_slice(
            "4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318",
            &mut secret,
        )
        .unwrap();
        DeviceKey::from_bytes(&secret).unwrap()
    }
}
