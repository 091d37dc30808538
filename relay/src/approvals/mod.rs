//! The approval mailbox (ARCHITECTURE §10): a master device's signed request waits here for
//! the companion device it names, which receives it by SSE and answers; the requester long-polls
//! for the answer. Requests live in memory only: they last at most five minutes, and a relay
//! restart merely makes the requester ask again.
//!
//! Everything is bounded: pending requests per operator and in all, entries per operator
//! (pending and ended), and entries in all. Requests from devices not yet on chain (a device
//! asking for its own first registration) come from a small pool of their own, one pending per
//! device, so keys made up by the thousand cannot fill the mailbox that registered masters need
//! (for instance to revoke a stolen device). An ended entry is kept until [`RETAIN_SECS`] past
//! the later of its end and its expiry, so a waiter can still learn how it ended and the same
//! signed request can never be submitted twice (once dropped, it is expired and refused).

mod routes;
#[cfg(test)]
mod tests;

pub use routes::{router, ApprovalsApi};

use agentkeys_core::approval::{ApprovalAnswer, ApprovalRequest, ApprovalState, ApprovalStatus};
use agentkeys_core::identity::{Address, Omni};
use agentkeys_core::{ApiError, ErrorCode};
use std::collections::{HashMap, HashSet};
use std::sync::{Mutex, PoisonError};
use tokio::sync::watch;

pub const MAX_PENDING_PER_OPERATOR: usize = 32;
/// Pending and ended entries of one operator, so that quickly answered requests cannot fill
/// the mailbox for everyone while they are retained.
pub const MAX_ENTRIES_PER_OPERATOR: usize = 2 * MAX_PENDING_PER_OPERATOR;
pub const MAX_ENTRIES: usize = 4096;
/// Entries (pending and ended) of devices not on chain yet, apart from [`MAX_ENTRIES`].
pub const MAX_FIRST_REGISTRATION_ENTRIES: usize = 64;

/// Which pool a request is counted in; the routes decide it from the chain.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pool {
    /// The requester is an active master of the request's operator.
    Registered,
    /// The requester is not on chain and asks for its own first registration.
    FirstRegistration,
}
/// How long an ended entry stays readable.
pub const RETAIN_SECS: u64 = 120;

struct Entry {
    request: ApprovalRequest,
    pool: Pool,
    state: ApprovalState,
    answer: Option<ApprovalAnswer>,
    /// When it was answered; for expiry, `expires_at` says when it ended.
    answered_at: Option<u64>,
}

impl Entry {
    /// The state at `now`: a pending request past its expiry is expired.
    fn state_at(&self, now: u64) -> ApprovalState {
        if self.state == ApprovalState::Pending && self.request.expires_at <= now {
            ApprovalState::Expired
        } else {
            self.state
        }
    }

    fn drop_at(&self) -> u64 {
        self.request
            .expires_at
            .max(self.answered_at.unwrap_or(0))
            .saturating_add(RETAIN_SECS)
    }

    fn status(&self, now: u64) -> ApprovalStatus {
        let (assertion, reason, consent) = match &self.answer {
            Some(ApprovalAnswer::Approved { assertion, consent }) => {
                (Some(assertion.clone()), None, consent.clone())
            }
            Some(ApprovalAnswer::Declined { reason }) => (None, Some(reason.clone()), None),
            None => (None, None, None),
        };
        ApprovalStatus {
            request_id: self.request.request_id.clone(),
            state: self.state_at(now),
            approver: self.request.approver,
            assertion,
            reason,
            consent,
        }
    }
}

#[derive(Default)]
struct Inner {
    entries: HashMap<String, Entry>,
    /// Request ids by approver, so a device's stream does not scan every entry.
    by_approver: HashMap<Address, HashSet<String>>,
}

impl Inner {
    fn sweep(&mut self, now: u64) {
        let gone: Vec<String> = self
            .entries
            .iter()
            .filter(|(_, e)| e.drop_at() <= now)
            .map(|(id, _)| id.clone())
            .collect();
        for id in gone {
            if let Some(e) = self.entries.remove(&id) {
                let approver = e.request.approver;
                if let Some(ids) = self.by_approver.get_mut(&approver) {
                    ids.remove(&id);
                    if ids.is_empty() {
                        self.by_approver.remove(&approver);
                    }
                }
            }
        }
    }

    /// Entries of `pool`, and whether `requester` has one pending in it.
    fn pool_counts(&self, pool: Pool, requester: &Address, now: u64) -> (usize, bool) {
        let mut all = 0;
        let mut pending_of_requester = false;
        for e in self.entries.values().filter(|e| e.pool == pool) {
            all += 1;
            if e.request.requester == *requester && e.state_at(now) == ApprovalState::Pending {
                pending_of_requester = true;
            }
        }
        (all, pending_of_requester)
    }

    fn counts(&self, operator: &Omni, now: u64) -> (usize, usize) {
        let mine = self
            .entries
            .values()
            .filter(|e| e.request.operator == *operator);
        let (mut pending, mut all) = (0, 0);
        for e in mine {
            all += 1;
            if e.state_at(now) == ApprovalState::Pending {
                pending += 1;
            }
        }
        (pending, all)
    }
}

/// The mailbox. Callers validate requests and authorize devices; the store enforces who may
/// see and answer what, the states, and the bounds. Every change bumps a watch counter that
/// long polls and streams wait on.
pub struct Approvals {
    inner: Mutex<Inner>,
    changed: watch::Sender<u64>,
}

impl Default for Approvals {
    fn default() -> Self {
        Approvals {
            inner: Mutex::new(Inner::default()),
            changed: watch::channel(0).0,
        }
    }
}

/// Refuses an entry that no longer awaits an answer.
fn awaiting(e: &Entry, now: u64) -> Result<(), ApiError> {
    match e.state_at(now) {
        ApprovalState::Pending => Ok(()),
        ApprovalState::Expired => Err(ErrorCode::ApprovalExpired.into()),
        ApprovalState::Approved | ApprovalState::Declined => {
            Err(ErrorCode::ApprovalAnswered.into())
        }
    }
}

fn full(why: &str) -> ApiError {
    ApiError::new(ErrorCode::ApprovalsFull, why)
}

impl Approvals {
    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn bump(&self) {
        self.changed.send_modify(|v| *v = v.wrapping_add(1));
    }

    /// Wakes on every change (a new request, an answer).
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.changed.subscribe()
    }

    /// Adds a validated request, counted in `pool`.
    pub fn insert(&self, request: ApprovalRequest, pool: Pool, now: u64) -> Result<(), ApiError> {
        {
            let mut inner = self.lock();
            inner.sweep(now);
            if inner.entries.contains_key(&request.request_id) {
                return Err(ApiError::new(
                    ErrorCode::ApprovalAnswered,
                    "a request with this id was already submitted",
                ));
            }
            match pool {
                Pool::Registered => {
                    let (pending, all) = inner.counts(&request.operator, now);
                    if pending >= MAX_PENDING_PER_OPERATOR {
                        return Err(full(
                            "the operator has 32 pending approval requests; wait for one to end",
                        ));
                    }
                    if all >= MAX_ENTRIES_PER_OPERATOR {
                        return Err(full(
                            "the operator's recent approval requests are still retained; retry shortly",
                        ));
                    }
                    let (first_registrations, _) =
                        inner.pool_counts(Pool::FirstRegistration, &request.requester, now);
                    if inner.entries.len() - first_registrations >= MAX_ENTRIES {
                        return Err(full("the relay holds too many approval requests"));
                    }
                }
                Pool::FirstRegistration => {
                    let (all, already) =
                        inner.pool_counts(Pool::FirstRegistration, &request.requester, now);
                    if already {
                        return Err(full(
                            "this device already has a registration request waiting; wait for it to end",
                        ));
                    }
                    if all >= MAX_FIRST_REGISTRATION_ENTRIES {
                        return Err(full(
                            "too many devices not yet registered are asking for approval; retry shortly",
                        ));
                    }
                }
            }
            let id = request.request_id.clone();
            inner
                .by_approver
                .entry(request.approver)
                .or_default()
                .insert(id.clone());
            inner.entries.insert(
                id,
                Entry {
                    request,
                    pool,
                    state: ApprovalState::Pending,
                    answer: None,
                    answered_at: None,
                },
            );
        }
        self.bump();
        Ok(())
    }

    /// The request with `id` if `device` is its approver and it still awaits an answer, so
    /// the caller can check the answer against it (the answer itself re-checks the state).
    pub fn request_for_approver(
        &self,
        id: &str,
        device: &Address,
        now: u64,
    ) -> Result<ApprovalRequest, ApiError> {
        let inner = self.lock();
        let e = inner.entries.get(id).ok_or(ErrorCode::ApprovalNotFound)?;
        if e.request.approver != *device {
            return Err(ErrorCode::ApprovalNotYours.into());
        }
        awaiting(e, now)?;
        Ok(e.request.clone())
    }

    /// Records `device`'s answer; the caller has checked the answer against the request.
    pub fn answer(
        &self,
        id: &str,
        device: &Address,
        answer: ApprovalAnswer,
        now: u64,
    ) -> Result<ApprovalStatus, ApiError> {
        let status = {
            let mut inner = self.lock();
            let e = inner
                .entries
                .get_mut(id)
                .ok_or(ErrorCode::ApprovalNotFound)?;
            if e.request.approver != *device {
                return Err(ErrorCode::ApprovalNotYours.into());
            }
            awaiting(e, now)?;
            e.state = match answer {
                ApprovalAnswer::Approved { .. } => ApprovalState::Approved,
                ApprovalAnswer::Declined { .. } => ApprovalState::Declined,
            };
            e.answer = Some(answer);
            e.answered_at = Some(now);
            e.status(now)
        };
        self.bump();
        Ok(status)
    }

    /// The status for its requester, and the request's expiry (when a wait must end).
    pub fn status_for_requester(
        &self,
        id: &str,
        device: &Address,
        now: u64,
    ) -> Result<(ApprovalStatus, u64), ApiError> {
        let inner = self.lock();
        let e = inner.entries.get(id).ok_or(ErrorCode::ApprovalNotFound)?;
        if e.request.requester != *device {
            return Err(ErrorCode::ApprovalNotYours.into());
        }
        Ok((e.status(now), e.request.expires_at))
    }

    /// Pending, unexpired requests addressed to `approver`, oldest first.
    pub fn pending_for(&self, approver: &Address, now: u64) -> Vec<ApprovalRequest> {
        let inner = self.lock();
        let Some(ids) = inner.by_approver.get(approver) else {
            return Vec::new();
        };
        let mut out: Vec<ApprovalRequest> = ids
            .iter()
            .filter_map(|id| inner.entries.get(id))
            .filter(|e| e.state_at(now) == ApprovalState::Pending)
            .map(|e| e.request.clone())
            .collect();
        out.sort_by(|a, b| (a.issued_at, &a.request_id).cmp(&(b.issued_at, &b.request_id)));
        out
    }

    /// Entries held (any state), for tests and metrics.
    pub fn len(&self) -> usize {
        self.lock().entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}
