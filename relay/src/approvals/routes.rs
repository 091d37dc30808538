//! The mailbox's endpoints, all with a session (the broker's, verified like the chain routes
//! verify theirs):
//!
//! - `POST /v1/approvals`: a master submits a request it signed.
//! - `GET /v1/approvals/stream`: SSE of the requests addressed to the session's device, first
//!   those already waiting, then new ones.
//! - `POST /v1/approvals/{id}/answer`: the approver answers.
//! - `GET /v1/approvals/{id}?wait_secs=N`: the requester reads the state, waiting up to N
//!   seconds for an answer.
//!
//! Devices are checked against the chain when a request is submitted and again when it is
//! answered, because a session outlives a revocation by up to its lifetime.

use super::{Approvals, Pool};
use crate::broker::Broker;
use crate::http::rate_limit::{request_peer_key, RateLimiter};
use crate::http::serve::REQUEST_TIMEOUT;
use crate::http::{decode_json, json_ok, read_body, ApiFailure};
use agentkeys_core::approval::{
    is_request_id, ApprovalAnswer, ApprovalRequest, ApprovalState, CreatedApproval,
};
use agentkeys_core::chain::Tier;
use agentkeys_core::identity::{Address, Omni};
use agentkeys_core::routes;
use agentkeys_core::session::SessionClaims;
use agentkeys_core::time_util::now_secs;
use agentkeys_core::{ApiError, ErrorCode};
use axum::extract::{Path, Request, State};
use axum::http::StatusCode;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use futures::stream::Stream;
use std::collections::{HashMap, HashSet, VecDeque};
use std::convert::Infallible;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;
use tokio::sync::{watch, OwnedSemaphorePermit, Semaphore};

/// A request is about 1.5 KiB; an answer carries one WebAuthn assertion.
const BODY_LIMIT: usize = 16 * 1024;
pub const MAX_WAIT_SECS: u64 = 30;
/// Every handler runs under the relay's request timeout; a long poll answers before it.
const WAIT_MARGIN: Duration = Duration::from_secs(2);
/// Streams of registered masters; strangers never take these.
const MAX_STREAMS: usize = 256;
/// Streams of devices not on chain yet (a companion waiting to approve its own registration).
const MAX_FIRST_REGISTRATION_STREAMS: usize = 32;
/// One daemon needs one stream; a few allow a reconnect to overlap the old one.
const MAX_STREAMS_PER_DEVICE: usize = 4;
const MAX_WAITERS: usize = 1024;
/// Client networks tracked by the first-registration limit (see `RateLimiter`).
const FIRST_REGISTRATION_NETWORKS: usize = 10_000;
const KEEP_ALIVE: Duration = Duration::from_secs(15);

pub struct ApprovalsApi {
    pub broker: Arc<Broker>,
    pub store: Approvals,
    streams: Arc<Semaphore>,
    first_registration_streams: Arc<Semaphore>,
    per_device: Arc<Mutex<HashMap<Address, usize>>>,
    waiters: Arc<Semaphore>,
    /// First-registration requests per client network: the pool they share is small, so one
    /// network must not fill it.
    first_registration_per_ip: RateLimiter<IpAddr>,
    /// Set when the relay begins to shut down, so streams and waits end and do not hold the
    /// drain.
    stop: watch::Receiver<bool>,
}

impl ApprovalsApi {
    /// `first_registrations_per_ip_per_hour`: first-registration requests one IPv4 address or
    /// IPv6 /64 may make in an hour (0 = no limit).
    pub fn new(
        broker: Arc<Broker>,
        stop: watch::Receiver<bool>,
        first_registrations_per_ip_per_hour: u64,
    ) -> ApprovalsApi {
        ApprovalsApi {
            broker,
            store: Approvals::default(),
            streams: Arc::new(Semaphore::new(MAX_STREAMS)),
            first_registration_streams: Arc::new(Semaphore::new(MAX_FIRST_REGISTRATION_STREAMS)),
            per_device: Arc::new(Mutex::new(HashMap::new())),
            waiters: Arc::new(Semaphore::new(MAX_WAITERS)),
            first_registration_per_ip: RateLimiter::budget(
                first_registrations_per_ip_per_hour,
                Duration::from_secs(3_600),
                FIRST_REGISTRATION_NETWORKS,
            ),
            stop,
        }
    }
}

pub fn router(api: Arc<ApprovalsApi>) -> Router {
    Router::new()
        .route(routes::APPROVALS, post(create))
        .route(routes::APPROVAL_STREAM, get(stream))
        .route(routes::APPROVAL, get(status))
        .route(routes::APPROVAL_ANSWER, post(answer))
        .with_state(api)
}

fn session(api: &ApprovalsApi, req: &Request) -> Result<SessionClaims, ApiError> {
    api.broker.session(req.headers())
}

/// Ids are random; a malformed one cannot name anything, and is never echoed.
fn check_id(id: &str) -> Result<(), ApiError> {
    if is_request_id(id) {
        Ok(())
    } else {
        Err(ApiError::new(
            ErrorCode::ApprovalNotFound,
            "no approval request has that id (ids are 16 bytes in base64url)",
        ))
    }
}

/// The op tag of `SidecarRegistry.registerFirstMasterDevice` approvals.
const FIRST_MASTER_TAG: &str = "register_first_master";

/// The requester must be an active master of the operator: approvals gate master changes.
/// The one exception is a device registering itself as its own operator's first master with
/// a passkey that lives on another device (a machine without a browser): it is not on chain
/// yet, and the operator can only be the one its own address derives. The answer is the pool
/// the request is counted in.
async fn check_requester(
    api: &ApprovalsApi,
    device: &Address,
    operator: &Omni,
    op_tag: &str,
) -> Result<Pool, ApiError> {
    match api.broker.authority.device(device).await? {
        None if op_tag == FIRST_MASTER_TAG && *operator == Omni::operator(device) => {
            Ok(Pool::FirstRegistration)
        }
        None => Err(ApiError::new(
            ErrorCode::DeviceNotRegistered,
            "only a registered master device may ask for approvals",
        )),
        Some(d) if d.operator != *operator || d.tier != Tier::Master => Err(ApiError::new(
            ErrorCode::ApprovalNotYours,
            "only a master device of the operator may ask for its approvals",
        )),
        Some(d) if d.revoked => Err(ErrorCode::DeviceRevoked.into()),
        Some(_) => Ok(Pool::Registered),
    }
}

/// The approver is a device not registered yet (about to be added as a master) or an active
/// master of the same operator.
async fn check_approver(
    api: &ApprovalsApi,
    approver: &Address,
    operator: &Omni,
) -> Result<(), ApiError> {
    match api.broker.authority.device(approver).await? {
        None => Ok(()),
        Some(d) if d.operator == *operator && d.tier == Tier::Master && !d.revoked => Ok(()),
        Some(d) => {
            let why = if d.operator != *operator {
                "the approver is a device of another operator"
            } else if d.tier != Tier::Master {
                "the approver is an agent device"
            } else {
                "the approver has been revoked"
            };
            Err(ApiError::new(ErrorCode::ApproverNotPermitted, why))
        }
    }
}

async fn create(
    State(api): State<Arc<ApprovalsApi>>,
    req: Request,
) -> Result<Response, ApiFailure> {
    let s = session(&api, &req)?;
    let peer = request_peer_key(&req);
    let body = read_body(req.into_body(), BODY_LIMIT).await?;
    let r: ApprovalRequest = decode_json(&body)?;
    if r.requester != s.sub || r.operator != s.opr || s.act != s.opr {
        return Err(ApiError::new(
            ErrorCode::ApprovalNotYours,
            "the request must be asked by this session's own device for its own operator",
        )
        .into());
    }
    let now = now_secs();
    r.validate(now)?;
    if r.approver == r.requester {
        return Err(ApiError::new(
            ErrorCode::ApproverNotPermitted,
            "a device cannot approve its own request",
        )
        .into());
    }
    let pool = check_requester(&api, &r.requester, &r.operator, &r.op_tag).await?;
    check_approver(&api, &r.approver, &r.operator).await?;
    if pool == Pool::FirstRegistration && !api.first_registration_per_ip.allow(&peer) {
        return Err(ErrorCode::SponsorBudgetExhausted.into());
    }
    let created = CreatedApproval {
        request_id: r.request_id.clone(),
    };
    tracing::info!(
        requester = %r.requester,
        approver = %r.approver,
        op_tag = %r.op_tag,
        request = %r.request_id,
        "approval requested"
    );
    api.store.insert(r, pool, now)?;
    Ok((StatusCode::CREATED, Json(created)).into_response())
}

async fn answer(
    State(api): State<Arc<ApprovalsApi>>,
    Path(id): Path<String>,
    req: Request,
) -> Result<Response, ApiFailure> {
    let s = session(&api, &req)?;
    check_id(&id)?;
    let body = read_body(req.into_body(), BODY_LIMIT).await?;
    let a: ApprovalAnswer = decode_json(&body)?;
    let request = api.store.request_for_approver(&id, &s.sub, now_secs())?;
    a.check_for(&request)?;
    // The approver may have been registered elsewhere or revoked since the request was made.
    check_approver(&api, &s.sub, &request.operator).await?;
    let status = api.store.answer(&id, &s.sub, a, now_secs())?;
    tracing::info!(approver = %s.sub, request = %id, state = ?status.state, "approval answered");
    Ok(json_ok(&status))
}

/// `wait_secs=N` from the query, 0 when absent.
fn wait_secs(query: Option<&str>) -> Result<u64, ApiError> {
    let bad = || {
        ApiError::new(
            ErrorCode::BadRequest,
            "wait_secs must be a number from 0 to 30",
        )
    };
    let mut wait = 0;
    for pair in query.unwrap_or("").split('&') {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        if k == "wait_secs" {
            if v.is_empty() || v.len() > 2 {
                return Err(bad());
            }
            wait = v.parse::<u64>().map_err(|_| bad())?;
        }
    }
    if wait > MAX_WAIT_SECS {
        return Err(bad());
    }
    Ok(wait)
}

async fn status(
    State(api): State<Arc<ApprovalsApi>>,
    Path(id): Path<String>,
    req: Request,
) -> Result<Response, ApiFailure> {
    let s = session(&api, &req)?;
    check_id(&id)?;
    let wait = wait_secs(req.uri().query())?;
    let (current, expires_at) = api.store.status_for_requester(&id, &s.sub, now_secs())?;
    if wait == 0 || current.state != ApprovalState::Pending {
        return Ok(json_ok(&current));
    }
    let _permit = api.waiters.clone().try_acquire_owned().map_err(|_| {
        ApiError::new(
            ErrorCode::ApprovalsFull,
            "too many requests are waiting; retry shortly",
        )
    })?;
    let budget = Duration::from_secs(wait).min(REQUEST_TIMEOUT.saturating_sub(WAIT_MARGIN));
    let deadline = tokio::time::Instant::now() + budget;
    let mut changed = api.store.subscribe();
    let mut stop = api.stop.clone();
    loop {
        // Marked seen before reading, so a change between the read and the wait still wakes.
        changed.borrow_and_update();
        let (current, _) = api.store.status_for_requester(&id, &s.sub, now_secs())?;
        if current.state != ApprovalState::Pending
            || tokio::time::Instant::now() >= deadline
            || *stop.borrow()
        {
            return Ok(json_ok(&current));
        }
        // Expiry changes nothing in the store, so wake for it too (now_secs truncates, so
        // sleeping the whole remaining seconds lands at or past expires_at).
        let to_expiry = Duration::from_secs(expires_at.saturating_sub(now_secs()).max(1));
        let wake = deadline.min(tokio::time::Instant::now() + to_expiry);
        tokio::select! {
            r = changed.changed() => if r.is_err() { return Ok(json_ok(&current)) },
            r = stop.changed() => if r.is_err() { return Ok(json_ok(&current)) },
            _ = tokio::time::sleep_until(wake) => {}
        }
    }
}

/// Holds a stream's slots (one of all, one of its device's) until the stream is dropped.
struct StreamSlot {
    _permit: OwnedSemaphorePermit,
    per_device: Arc<Mutex<HashMap<Address, usize>>>,
    device: Address,
}

impl Drop for StreamSlot {
    fn drop(&mut self) {
        let mut map = self
            .per_device
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(n) = map.get_mut(&self.device) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                map.remove(&self.device);
            }
        }
    }
}

/// Which streams a device may open: an active master draws on the registered pool, a device
/// not on chain on the small first-registration pool (one stream each), anything else none.
async fn stream_pool(api: &ApprovalsApi, device: &Address) -> Result<(Pool, usize), ApiError> {
    match api.broker.authority.device(device).await? {
        None => Ok((Pool::FirstRegistration, 1)),
        Some(d) if d.revoked => Err(ErrorCode::DeviceRevoked.into()),
        Some(d) if d.tier != Tier::Master => Err(ApiError::new(
            ErrorCode::ApproverNotPermitted,
            "an agent device never approves, so it has no approval stream",
        )),
        Some(_) => Ok((Pool::Registered, MAX_STREAMS_PER_DEVICE)),
    }
}

fn stream_slot(
    api: &ApprovalsApi,
    device: Address,
    pool: Pool,
    per_device_limit: usize,
) -> Result<StreamSlot, ApiError> {
    let busy = || {
        ApiError::new(
            ErrorCode::ApprovalsFull,
            "too many open approval streams; retry shortly",
        )
    };
    let semaphore = match pool {
        Pool::Registered => &api.streams,
        Pool::FirstRegistration => &api.first_registration_streams,
    };
    let permit = semaphore.clone().try_acquire_owned().map_err(|_| busy())?;
    let mut map = api
        .per_device
        .lock()
        .unwrap_or_else(PoisonError::into_inner);
    let n = map.entry(device).or_insert(0);
    if *n >= per_device_limit {
        return Err(busy());
    }
    *n += 1;
    drop(map);
    Ok(StreamSlot {
        _permit: permit,
        per_device: api.per_device.clone(),
        device,
    })
}

async fn stream(
    State(api): State<Arc<ApprovalsApi>>,
    req: Request,
) -> Result<Response, ApiFailure> {
    let s = session(&api, &req)?;
    let (pool, per_device_limit) = stream_pool(&api, &s.sub).await?;
    let slot = stream_slot(&api, s.sub, pool, per_device_limit)?;
    Ok(Sse::new(events(api.clone(), s.sub, s.exp, slot))
        .keep_alive(KeepAlive::new().interval(KEEP_ALIVE))
        .into_response())
}

struct StreamState {
    api: Arc<ApprovalsApi>,
    device: Address,
    /// The stream ends with its session, as any other use of the session would.
    session_exp: u64,
    changed: watch::Receiver<u64>,
    stop: watch::Receiver<bool>,
    queue: VecDeque<ApprovalRequest>,
    /// Ids already sent that are still pending (an ended request never returns to pending).
    sent: HashSet<String>,
    _slot: StreamSlot,
}

fn events(
    api: Arc<ApprovalsApi>,
    device: Address,
    session_exp: u64,
    slot: StreamSlot,
) -> impl Stream<Item = Result<Event, Infallible>> {
    let state = StreamState {
        changed: api.store.subscribe(),
        stop: api.stop.clone(),
        api,
        device,
        session_exp,
        queue: VecDeque::new(),
        sent: HashSet::new(),
        _slot: slot,
    };
    futures::stream::unfold(state, |mut st| async move {
        loop {
            if *st.stop.borrow() || now_secs() >= st.session_exp {
                return None;
            }
            if let Some(r) = st.queue.pop_front() {
                let event = Event::default()
                    .event("approval")
                    .json_data(&r)
                    .unwrap_or_else(|_| Event::default().event("error"));
                return Some((Ok(event), st));
            }
            st.changed.borrow_and_update();
            let pending = st.api.store.pending_for(&st.device, now_secs());
            let ids: HashSet<&String> = pending.iter().map(|r| &r.request_id).collect();
            st.sent.retain(|id| ids.contains(id));
            for r in pending {
                if st.sent.insert(r.request_id.clone()) {
                    st.queue.push_back(r);
                }
            }
            if !st.queue.is_empty() {
                continue;
            }
            let until_exp = Duration::from_secs(st.session_exp.saturating_sub(now_secs()));
            tokio::select! {
                r = st.changed.changed() => if r.is_err() { return None },
                r = st.stop.changed() => if r.is_err() { return None },
                _ = tokio::time::sleep(until_exp) => {}
            }
        }
    })
}
