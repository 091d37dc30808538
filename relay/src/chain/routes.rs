//! The chain endpoints: public reads (status, devices, scopes, the epoch, audit roots, and a
//! server-sent event stream of changes) and, with a session, transactions signed by the
//! session's own device. The relay only relays: it cannot sign for a device, and it refuses a
//! transaction from another sender or to a contract that is not ours (on a fee chain it pays
//! the gas, so it must not pay for anything else). Whom it submits for, and how much, is
//! `sponsor`'s.

use super::events::decode_log;
use super::revert::describe;
use super::sponsor::{self, SponsorBudget};
use super::views::{self, hex32};
use super::{ChainAdapter, ChainError, Mined, SignedTx};
use crate::broker::Broker;
use crate::config::SponsorLimits;
use crate::http::rate_limit::request_peer_key;
use crate::http::{decode_json, json_ok, read_body, ApiFailure};
use agentkeys_core::chain::{
    ChainStatus, EpochView, SubmitTxRequest, TxParamsRequest, TxReceiptView,
};
use agentkeys_core::identity::{Address as CoreAddress, Omni};
use agentkeys_core::routes;
use agentkeys_core::session::SessionClaims;
use agentkeys_core::{ApiError, ErrorCode};
use alloy::primitives::{Address, Bytes, B256};
use axum::extract::{Path, Request, State};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use futures::stream::Stream;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{watch, Semaphore};

/// A signed transaction in hex, with its JSON wrapper.
const TX_BODY_LIMIT: usize = 2 * super::tx::MAX_RAW_TX_BYTES + 1024;
/// Open event streams at once; more get 503 until one closes.
const MAX_EVENT_STREAMS: usize = 256;

pub struct ChainApi {
    pub chain: Arc<dyn ChainAdapter>,
    pub broker: Arc<Broker>,
    pub streams: Arc<Semaphore>,
    pub budget: SponsorBudget,
    /// Set when the relay begins to shut down, so event streams end and do not hold the drain.
    pub stop: watch::Receiver<bool>,
}

impl ChainApi {
    pub fn new(
        chain: Arc<dyn ChainAdapter>,
        broker: Arc<Broker>,
        stop: watch::Receiver<bool>,
        limits: SponsorLimits,
    ) -> ChainApi {
        ChainApi {
            chain,
            broker,
            streams: Arc::new(Semaphore::new(MAX_EVENT_STREAMS)),
            budget: SponsorBudget::new(limits),
            stop,
        }
    }
}

pub fn router(api: Arc<ChainApi>) -> Router {
    Router::new()
        .route(routes::CHAIN_STATUS, get(status))
        .route(routes::CHAIN_DEVICE, get(device))
        .route(routes::CHAIN_SCOPE, get(scope))
        .route(routes::CHAIN_OPERATOR, get(operator))
        .route(routes::CHAIN_EPOCH, get(epoch))
        .route(routes::CHAIN_AUDIT_ROOT, get(audit_root))
        .route(routes::CHAIN_EVENTS, get(events))
        .route(routes::CHAIN_TX_PARAMS, post(tx_params))
        .route(routes::CHAIN_TX, post(submit))
        .with_state(api)
}

pub(super) fn chain_failure(e: ChainError) -> ApiError {
    match e {
        ChainError::Reverted { data } => ApiError::new(
            ErrorCode::ChainReverted,
            format!("the chain refused the transaction: {}", describe(&data)),
        ),
        ChainError::InvalidTx(why) => ApiError::new(ErrorCode::TxInvalid, why),
        ChainError::Unavailable(why) => {
            tracing::warn!(error = %why, "chain unavailable");
            ApiError::new(ErrorCode::ChainUnavailable, why)
        }
    }
}

fn session(api: &ChainApi, req: &Request) -> Result<SessionClaims, ApiError> {
    api.broker.session(req.headers())
}

fn parse_b256(s: &str) -> Result<B256, ApiError> {
    let hex = s.strip_prefix("0x").unwrap_or(s);
    let mut out = [0u8; 32];
    if hex.len() != 64 || hex::decode_to_slice(hex, &mut out).is_err() {
        return Err(ApiError::new(
            ErrorCode::BadRequest,
            "expected 32 bytes as 64 hex digits",
        ));
    }
    Ok(B256::from(out))
}

fn parse_omni(s: &str) -> Result<Omni, ApiError> {
    s.parse::<Omni>()
        .map_err(|_| ApiError::new(ErrorCode::BadRequest, "expected an omni (64 lowercase hex)"))
}

fn parse_hex_bytes(s: &str) -> Result<Bytes, ApiError> {
    let hex = s.strip_prefix("0x").unwrap_or(s);
    hex::decode(hex)
        .map(Bytes::from)
        .map_err(|_| ApiError::new(ErrorCode::BadRequest, "expected 0x-prefixed hex"))
}

async fn status(State(api): State<Arc<ChainApi>>) -> Result<Response, ApiFailure> {
    let c = api.chain.as_ref();
    let block_number = c.block_number().await.map_err(chain_failure)?;
    let epoch = views::epoch(c).await.map_err(chain_failure)?;
    Ok(json_ok(&ChainStatus {
        adapter: c.kind(),
        chain_id: c.chain_id(),
        block_number,
        contracts: c.contracts().to_wire(),
        submitter: CoreAddress(c.submitter().into_array()),
        epoch,
    }))
}

async fn device(
    State(api): State<Arc<ChainApi>>,
    Path(hash): Path<String>,
) -> Result<Response, ApiFailure> {
    let hash = parse_b256(&hash)?;
    match views::device(api.chain.as_ref(), hash)
        .await
        .map_err(chain_failure)?
    {
        Some(d) => Ok(json_ok(&d)),
        None => Err(ErrorCode::DeviceNotRegistered.into()),
    }
}

async fn scope(
    State(api): State<Arc<ChainApi>>,
    Path((operator, actor)): Path<(String, String)>,
) -> Result<Response, ApiFailure> {
    let (operator, actor) = (parse_omni(&operator)?, parse_omni(&actor)?);
    let s = views::scope(api.chain.as_ref(), &operator, &actor)
        .await
        .map_err(chain_failure)?;
    Ok(json_ok(&s))
}

async fn operator(
    State(api): State<Arc<ChainApi>>,
    Path(operator): Path<String>,
) -> Result<Response, ApiFailure> {
    let operator = parse_omni(&operator)?;
    let view = views::operator(api.chain.as_ref(), &operator)
        .await
        .map_err(chain_failure)?;
    Ok(json_ok(&view))
}

async fn epoch(State(api): State<Arc<ChainApi>>) -> Result<Response, ApiFailure> {
    let epoch = views::epoch(api.chain.as_ref())
        .await
        .map_err(chain_failure)?;
    Ok(json_ok(&EpochView { epoch }))
}

async fn audit_root(
    State(api): State<Arc<ChainApi>>,
    Path((operator, index)): Path<(String, String)>,
) -> Result<Response, ApiFailure> {
    let operator = parse_omni(&operator)?;
    let index: u64 = index
        .parse()
        .map_err(|_| ApiError::new(ErrorCode::BadRequest, "the index is not a number"))?;
    match views::audit_root(api.chain.as_ref(), &operator, index)
        .await
        .map_err(chain_failure)?
    {
        Some(root) => Ok(json_ok(&root)),
        None => Err(ApiError::new(
            ErrorCode::RecordNotFound,
            format!("the operator has no anchored root #{index}"),
        )
        .into()),
    }
}

async fn tx_params(State(api): State<Arc<ChainApi>>, req: Request) -> Result<Response, ApiFailure> {
    let s = session(&api, &req)?;
    let body = read_body(req.into_body(), TX_BODY_LIMIT).await?;
    let r: TxParamsRequest = decode_json(&body)?;
    let to = Address::from(r.to.0);
    ours(api.chain.as_ref(), to)?;
    let data = parse_hex_bytes(&r.data)?;
    sponsor::payer(api.chain.as_ref(), &api.broker, &s.sub, to, &data).await?;
    let params = api
        .chain
        .tx_params(Address::from(s.sub.0), to, data)
        .await
        .map_err(chain_failure)?;
    Ok(json_ok(&params))
}

fn ours(chain: &dyn ChainAdapter, to: Address) -> Result<(), ApiError> {
    if chain.contracts().all().contains(&to) {
        Ok(())
    } else {
        Err(ApiError::new(
            ErrorCode::TxInvalid,
            "the transaction is not addressed to an AgentKeys contract",
        ))
    }
}

async fn submit(State(api): State<Arc<ChainApi>>, req: Request) -> Result<Response, ApiFailure> {
    let s = session(&api, &req)?;
    let peer = request_peer_key(&req);
    let body = read_body(req.into_body(), TX_BODY_LIMIT).await?;
    let r: SubmitTxRequest = decode_json(&body)?;
    let raw = parse_hex_bytes(&r.raw)?;
    let tx = SignedTx::decode(&raw, api.chain.chain_id()).map_err(chain_failure)?;
    if tx.sender != Address::from(s.sub.0) {
        return Err(ApiError::new(
            ErrorCode::TxInvalid,
            "the transaction is not signed by this session's device",
        )
        .into());
    }
    ours(api.chain.as_ref(), tx.to())?;
    let payer = sponsor::payer(
        api.chain.as_ref(),
        &api.broker,
        &s.sub,
        tx.to(),
        &tx.input(),
    )
    .await?;
    if payer == sponsor::Payer::FirstRegistration {
        // A stranger's transaction counts against everyone's budget of first registrations:
        // only one that would succeed may spend it.
        api.chain
            .tx_params(tx.sender, tx.to(), tx.input())
            .await
            .map_err(chain_failure)?;
    }
    api.budget.charge(payer, &s.sub, peer, tx.gas_limit())?;
    let mined = api.chain.submit_signed(tx).await.map_err(chain_failure)?;
    // This process knows of the change before the event poll of a node adapter does; the
    // device's next request must see it.
    api.broker.authority.clear();
    tracing::info!(
        device = %s.sub,
        tx = %mined.tx_hash,
        block = mined.block_number,
        success = mined.success,
        "device transaction mined"
    );
    Ok(json_ok(&receipt_view(&mined)))
}

pub fn receipt_view(m: &Mined) -> TxReceiptView {
    TxReceiptView {
        tx_hash: hex32(m.tx_hash),
        block_number: m.block_number,
        success: m.success,
        gas_used: m.gas_used,
        revert: (!m.success).then(|| describe(&m.revert_data)),
    }
}

async fn events(State(api): State<Arc<ChainApi>>) -> Result<Response, ApiFailure> {
    let permit = api.streams.clone().try_acquire_owned().map_err(|_| {
        ApiError::new(
            ErrorCode::ChainUnavailable,
            "too many open event streams; retry shortly",
        )
    })?;
    let rx = api.chain.subscribe();
    let contracts = *api.chain.contracts();
    let stop = api.stop.clone();
    Ok(Sse::new(stream(rx, contracts, stop, permit))
        .keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
        .into_response())
}

fn stream(
    rx: tokio::sync::broadcast::Receiver<super::ChainLog>,
    contracts: super::Contracts,
    stop: watch::Receiver<bool>,
    permit: tokio::sync::OwnedSemaphorePermit,
) -> impl Stream<Item = Result<Event, Infallible>> {
    use tokio::sync::broadcast::error::RecvError;
    futures::stream::unfold(
        (rx, stop, permit),
        move |(mut rx, mut stop, permit)| async move {
            loop {
                if *stop.borrow() {
                    return None;
                }
                let next = tokio::select! {
                    r = rx.recv() => r,
                    _ = stop.changed() => return None,
                };
                let event = match next {
                    Ok(log) => match decode_log(&contracts, &log) {
                        Some(ev) => Event::default()
                            .event(ev.kind.clone())
                            .json_data(&ev)
                            .unwrap_or_else(|_| Event::default().event("error")),
                        None => continue,
                    },
                    // The client missed events: tell it to re-read whatever it caches.
                    Err(RecvError::Lagged(n)) => {
                        Event::default().event("lagged").data(n.to_string())
                    }
                    Err(RecvError::Closed) => return None,
                };
                return Some((Ok(event), (rx, stop, permit)));
            }
        },
    )
}
