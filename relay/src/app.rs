//! Assembles the configured roles into one server: binds, starts the embedded S3 server when
//! asked, wires vault → signer/audit/broker keys in process or over HTTP, writes the bound
//! address for local clients, and serves until shutdown.

use crate::audit::foreign::ForeignAttempts;
use crate::audit::{spawn_anchorer, AnchorPolicy, AuditLog};
use crate::broker::{self, Broker, SigninLimiter, SiweNonces};
use crate::chain::authz::{Authority, DEFAULT_CACHE_TTL};
use crate::chain::routes::ChainApi;
use crate::chain::ChainAdapter;
use crate::config::{BootFail, RelayConfig, Role, S3Credentials, StorageMode};
use crate::health::{self, Dependencies};
use crate::http::error::{method_not_allowed, route_not_found};
use crate::http::serve::{serve, with_request_timeout};
use crate::internal::{InternalAuth, InternalClient, InternalToken};
use crate::isolation::{ActorScopedPolicy, SessionKeyring};
use crate::keys;
use crate::s3server::{self, EmbeddedS3Config};
use crate::signer::{self, DekSigner, K3Store, LocalSigner, RemoteSigner};
use crate::storage::ObjectStore;
use crate::vault::{
    self, AuditSink, KeySource, LocalAudit, LocalKeys, RemoteAudit, RemoteKeys, ReplayCache, Vault,
    VerifiedCaps,
};
use axum::Router;
use rand::RngCore;
use std::future::Future;
use std::path::Path;
use std::sync::Arc;
use tokio::net::TcpListener;
use tokio::sync::watch;
use zeroize::Zeroizing;

pub const ADDR_FILE: &str = "relay.addr";
const S3_CREDS_FILE: &str = "s3/credentials";
const S3_ROOT: &str = "s3/objects";
const AUDIT_DB: &str = "audit/audit.sqlite";

fn fail(setting: &str, reason: impl std::fmt::Display) -> BootFail {
    BootFail::new(setting, reason.to_string())
}

/// The embedded S3 server's own credentials: random, kept 0600 in the data directory, used
/// only between the vault and the S3 server inside this process.
fn embedded_credentials(data_dir: &Path) -> Result<S3Credentials, BootFail> {
    let path = data_dir.join(S3_CREDS_FILE);
    let bytes = keys::load_or_create(&path, || {
        let mut id = [0u8; 10];
        let mut secret = [0u8; 30];
        rand::rngs::OsRng.fill_bytes(&mut id);
        rand::rngs::OsRng.fill_bytes(&mut secret);
        Zeroizing::new(
            format!("AK{} {}\n", hex::encode_upper(id), hex::encode(secret)).into_bytes(),
        )
    })
    .map_err(|e| fail("storage", e))?;
    let text = std::str::from_utf8(&bytes)
        .map_err(|_| fail("storage", format!("{} is corrupt", path.display())))?;
    match text.trim().split_once(' ') {
        Some((id, secret)) => Ok(S3Credentials {
            access_key_id: id.to_string(),
            secret_access_key: secret.to_string(),
        }),
        None => Err(fail("storage", format!("{} is corrupt", path.display()))),
    }
}

/// The embedded S3 server, with the actor-scoped temporary keys the broker mints for it.
async fn start_embedded_s3(
    data_dir: &Path,
    storage: &crate::config::StorageConfig,
    keyring: Arc<SessionKeyring>,
    chain: Arc<dyn ChainAdapter>,
    foreign: Arc<ForeignAttempts>,
    stop: watch::Receiver<bool>,
) -> Result<(String, S3Credentials), BootFail> {
    let region = storage.region.as_str();
    let creds = embedded_credentials(data_dir)?;
    let listener = TcpListener::bind("127.0.0.1:0").await.map_err(|e| {
        fail(
            "storage",
            format!("cannot bind the embedded S3 server: {e}"),
        )
    })?;
    let addr = listener.local_addr().map_err(|e| fail("storage", e))?;
    let mut cfg = EmbeddedS3Config::new(
        data_dir.join(S3_ROOT),
        creds.access_key_id.clone(),
        creds.secret_access_key.clone(),
    );
    cfg.region = region.to_string();
    cfg.temporary = Some(keyring.clone());
    let policy = Arc::new(ActorScopedPolicy {
        keyring,
        root_access_key: creds.access_key_id.clone(),
        credentials_bucket: storage.credentials_bucket.clone(),
        memory_bucket: storage.memory_bucket.clone(),
        authority: Authority::new(chain, DEFAULT_CACHE_TTL),
        foreign,
    });
    let mut stop = stop;
    tokio::spawn(async move {
        let shutdown = async move {
            let _ = stop.wait_for(|s| *s).await;
        };
        if let Err(e) = s3server::serve(cfg, listener, policy, shutdown).await {
            tracing::error!(error = %e, "embedded S3 server stopped");
        }
    });
    Ok((format!("http://{addr}"), creds))
}

pub async fn run(config: RelayConfig, shutdown: impl Future<Output = ()>) -> Result<(), BootFail> {
    keys::private_dir(&config.data_dir).map_err(|e| fail("data_dir", e))?;
    let token = match &config.internal_token_file {
        Some(p) => Some(InternalToken::load(p).map_err(|e| fail("internal_token_file", e))?),
        None => None,
    };
    let client = |setting: &str, url: &str| {
        InternalClient::new(url, token.clone()).map_err(|e| fail(setting, e))
    };
    let listener = TcpListener::bind(config.listen)
        .await
        .map_err(|e| fail("listen", format!("cannot bind {}: {e}", config.listen)))?;
    let bound = listener.local_addr().map_err(|e| fail("listen", e))?;
    let public_url = config
        .public_url
        .clone()
        .unwrap_or_else(|| format!("http://{bound}"));
    let (stop_tx, stop_rx) = watch::channel(false);
    // Fires when shutdown begins, before the drain, so that long-lived event streams end.
    let (closing_tx, closing_rx) = watch::channel(false);
    let chain = crate::chain::connect::connect(&config).await?;

    let signer: Option<Arc<dyn DekSigner>> = if config.runs(Role::Signer) {
        let store = K3Store::open(&config.data_dir).map_err(|e| fail("signer", e))?;
        Some(Arc::new(LocalSigner::new(Arc::new(store))))
    } else if let Some(url) = &config.signer_url {
        Some(Arc::new(RemoteSigner::new(client("signer_url", url)?)))
    } else {
        None
    };

    let audit_log = if config.runs(Role::Audit) {
        let path = config.data_dir.join(AUDIT_DB);
        if let Some(dir) = path.parent() {
            keys::private_dir(dir).map_err(|e| fail("audit", e))?;
        }
        Some(AuditLog::open(&path).map_err(|e| fail("audit", e))?)
    } else {
        None
    };

    // Minting is audited like a release: in this process, or at the audit relay.
    let mint_audit: Option<Arc<dyn AuditSink>> = match (&audit_log, &config.audit_url) {
        (Some(log), _) => Some(Arc::new(LocalAudit(log.clone()))),
        (None, Some(url)) => Some(Arc::new(RemoteAudit(client("audit_url", url)?))),
        (None, None) => None,
    };
    let foreign = Arc::new(ForeignAttempts::new(
        mint_audit.clone(),
        crate::audit::foreign::DEFAULT_PER_DEVICE_PER_MINUTE,
    ));
    let broker = if config.runs(Role::Broker) {
        let signer = signer.clone().ok_or_else(|| {
            fail(
                "signer_url",
                "the broker needs the signer (for the key epoch)",
            )
        })?;
        let k1 = Broker::load_k1(&config.data_dir).map_err(|e| fail("broker", e))?;
        // Daemons pin this key at `agentkeys init`; the log lets a user compare fingerprints.
        tracing::info!(session_key = %format!("SHA256:{}", k1.kid()), "broker session key");
        Some(Arc::new(Broker {
            issuer: public_url.clone(),
            domain: broker::domain_of(&public_url),
            chain_id: config.chain_id,
            vault_audience: config.vault_audience.clone(),
            nonces: SiweNonces::new(&k1),
            limits: SigninLimiter::new(config.signin),
            k1,
            k2: Broker::load_k2(&config.data_dir).map_err(|e| fail("broker", e))?,
            signer,
            authority: Authority::new(chain.clone(), DEFAULT_CACHE_TTL),
            foreign: foreign.clone(),
        }))
    } else {
        None
    };

    let mut deps = Dependencies {
        signer: signer.clone(),
        chain: Some(chain.clone()),
        ..Default::default()
    };
    let mut app = Router::new();
    // Set when this process serves the embedded S3: the broker then mints its temporary keys.
    let mut embedded_s3 = None;
    if config.runs(Role::Vault) {
        let (endpoint, creds) = match config.storage.mode {
            StorageMode::Embedded => {
                let keyring =
                    SessionKeyring::load(&config.data_dir).map_err(|e| fail("storage", e))?;
                let (url, creds) = start_embedded_s3(
                    &config.data_dir,
                    &config.storage,
                    keyring.clone(),
                    chain.clone(),
                    foreign.clone(),
                    stop_rx.clone(),
                )
                .await?;
                embedded_s3 = Some(crate::cloud::EmbeddedS3Sessions {
                    keyring,
                    endpoint_url: url.clone(),
                });
                (Some(url), Some(creds))
            }
            StorageMode::S3 => (None, None),
        };
        let store = ObjectStore::connect(&config.storage, endpoint, creds).await;
        if config.storage.create_buckets {
            if let Err(e) = store.ensure_buckets().await {
                if config.storage.mode == StorageMode::Embedded {
                    return Err(fail("storage", e.message));
                }
                tracing::warn!(error = %e.message, "could not create buckets; /readyz will say why");
            }
        }
        let audit: Arc<dyn AuditSink> = match (&audit_log, &config.audit_url) {
            (Some(log), _) => Arc::new(LocalAudit(log.clone())),
            (None, Some(url)) => Arc::new(RemoteAudit(client("audit_url", url)?)),
            (None, None) => {
                return Err(fail(
                    "audit_url",
                    "the vault needs the audit role or its URL",
                ))
            }
        };
        let (keys, issuer): (Arc<dyn KeySource>, String) = match (&broker, &config.broker_url) {
            (Some(b), _) => (Arc::new(LocalKeys(b.jwks())), b.issuer.clone()),
            (None, Some(url)) => (
                Arc::new(RemoteKeys::new(client("broker_url", url)?)),
                url.clone(),
            ),
            (None, None) => {
                return Err(fail(
                    "broker_url",
                    "the vault needs the broker role or its URL",
                ))
            }
        };
        let signer = signer
            .clone()
            .ok_or_else(|| fail("signer_url", "the vault needs the signer role or its URL"))?;
        deps.storage = Some(store.clone());
        deps.audit = Some(audit.clone());
        let v = Vault {
            issuer,
            audience: config.vault_audience.clone(),
            keys,
            signer,
            store,
            audit,
            replay: ReplayCache::default(),
            verified: VerifiedCaps::default(),
            authority: Authority::new(chain.clone(), DEFAULT_CACHE_TTL),
            require_caller_credentials: config.require_caller_credentials,
            direct_backend: config.direct_backend,
        };
        app = app.merge(vault::router(Arc::new(v)));
    } else if let Some(log) = &audit_log {
        deps.audit = Some(Arc::new(LocalAudit(log.clone())));
    }
    if let Some(b) = &broker {
        app = app.merge(broker::router(b.clone()));
        let api = ChainApi::new(chain.clone(), b.clone(), closing_rx.clone(), config.sponsor);
        app = app.merge(crate::chain::routes::router(Arc::new(api)));
        let approvals = crate::approvals::ApprovalsApi::new(
            b.clone(),
            closing_rx.clone(),
            config.sponsor.first_registrations_per_ip_per_hour,
        );
        app = app.merge(crate::approvals::router(Arc::new(approvals)));
        let cloud = crate::cloud::CloudApi {
            broker: b.clone(),
            audit: mint_audit.clone(),
            sts: crate::cloud::sts_client(&config.cloud),
            config: config.cloud.clone(),
            embedded: embedded_s3.clone(),
            credentials_bucket: config.storage.credentials_bucket.clone(),
            memory_bucket: config.storage.memory_bucket.clone(),
        };
        app = app.merge(crate::cloud::router(Arc::new(cloud)));
    }
    // The signer and audit APIs exist only between split roles; in one process the KEK path
    // never touches the network.
    let split = config.roles.len() < Role::ALL.len();
    if split {
        let auth = InternalAuth::new(
            token
                .clone()
                .ok_or_else(|| fail("internal_token_file", "required when roles run apart"))?,
        );
        if config.runs(Role::Signer) {
            if let Some(s) = &signer {
                app = app.merge(signer::router(s.clone(), auth.clone()));
            }
        }
        if let Some(log) = &audit_log {
            app = app.merge(crate::audit::routes::router(log.clone(), auth));
        }
    }
    // Audit anchoring and the operator's own audit trail live with the audit log.
    let mut anchorer = None;
    if let Some(log) = &audit_log {
        crate::chain::connect::ensure_audit_relay(&*chain, &config).await?;
        let policy = AnchorPolicy {
            every_records: config.chain.anchor_every_records,
            every_secs: config.chain.anchor_every_secs,
        };
        anchorer = Some(spawn_anchorer(
            log.clone(),
            chain.clone(),
            policy,
            stop_rx.clone(),
        ));
        let session_keys: Option<(Arc<dyn KeySource>, String)> = match (&broker, &config.broker_url)
        {
            (Some(b), _) => Some((Arc::new(LocalKeys(b.jwks())), b.issuer.clone())),
            (None, Some(url)) => Some((
                Arc::new(RemoteKeys::new(client("broker_url", url)?)),
                url.clone(),
            )),
            (None, None) => {
                tracing::warn!("no broker here and no broker_url: the operators' audit trail endpoints are off");
                None
            }
        };
        if let Some((keys, issuer)) = session_keys {
            app = app.merge(crate::audit::operator_routes::router(
                log.clone(),
                keys,
                issuer,
                Some(policy.into()),
            ));
        }
    }
    let app = with_request_timeout(
        app.merge(health::router(deps))
            .fallback(route_not_found)
            .method_not_allowed_fallback(method_not_allowed),
    );

    keys::write_secret_file(
        &config.data_dir.join(ADDR_FILE),
        format!("{bound}\n").as_bytes(),
    )
    .map_err(|e| fail("data_dir", e))?;
    tracing::info!(address = %bound, roles = ?config.roles, storage = ?config.storage.mode, "relay listening");
    let shutdown = async move {
        shutdown.await;
        let _ = closing_tx.send(true);
    };
    serve(listener, app, shutdown).await;
    // The port is free from now on: an address left behind would point a client at whoever
    // binds it next.
    let _ = std::fs::remove_file(config.data_dir.join(ADDR_FILE));
    let _ = stop_tx.send(true);
    if let Some(a) = anchorer {
        a.join().await;
    }
    if let Some(log) = audit_log {
        log.close().await;
    }
    tracing::info!("relay stopped");
    Ok(())
}
