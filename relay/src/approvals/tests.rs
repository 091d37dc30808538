use super::*;
use agentkeys_core::device_key::DeviceKey;
use agentkeys_core::passkey::{challenge_field, ChainAssertion};

const NOW: u64 = 1_800_000_000;

fn key(b: u8) -> DeviceKey {
    DeviceKey::from_bytes(&[b; 32]).unwrap()
}

fn request_from(k: &DeviceKey, approver: Address, ttl: u64) -> ApprovalRequest {
    ApprovalRequest::new_signed(
        k,
        Omni::operator(&k.address()),
        approver,
        "add_master",
        "Add the device 0xabcd as a master",
        [5u8; 32],
        "companion.localhost",
        ttl,
        NOW,
    )
    .unwrap()
}

fn approved() -> ApprovalAnswer {
    let json = format!(
        r#"{{"type":"webauthn.get",{}}}"#,
        challenge_field(&[5u8; 32])
    );
    ApprovalAnswer::Approved {
        assertion: ChainAssertion {
            authenticator_data: vec![0; 37],
            client_data_json: json.into_bytes(),
            challenge_location: 0,
            type_location: 0,
            r: [1; 32],
            s: [1; 32],
        },
        consent: None,
    }
}

fn code<T: std::fmt::Debug>(r: Result<T, ApiError>) -> ErrorCode {
    r.expect_err("refused").code
}

#[test]
fn approvals_answer_once_by_the_approver_only() {
    let store = Approvals::default();
    let (a, b, c) = (key(1), key(2), key(3));
    let r = request_from(&a, b.address(), 60);
    let id = r.request_id.clone();
    store.insert(r.clone(), Pool::Registered, NOW).unwrap();
    assert_eq!(store.pending_for(&b.address(), NOW), vec![r.clone()]);
    assert!(store.pending_for(&c.address(), NOW).is_empty());

    // Only the approver answers; only the requester reads.
    assert_eq!(
        code(store.answer(&id, &c.address(), approved(), NOW)),
        ErrorCode::ApprovalNotYours
    );
    assert_eq!(
        code(store.status_for_requester(&id, &b.address(), NOW)),
        ErrorCode::ApprovalNotYours
    );
    assert_eq!(
        code(store.answer("AAAAAAAAAAAAAAAAAAAAAA", &b.address(), approved(), NOW)),
        ErrorCode::ApprovalNotFound
    );
    let (s, exp) = store.status_for_requester(&id, &a.address(), NOW).unwrap();
    assert_eq!((s.state, exp), (ApprovalState::Pending, NOW + 60));

    let mut seen = store.subscribe();
    seen.borrow_and_update();
    let s = store
        .answer(&id, &b.address(), approved(), NOW + 1)
        .unwrap();
    assert_eq!(s.state, ApprovalState::Approved);
    assert!(s.assertion.is_some() && s.reason.is_none());
    assert!(seen.has_changed().unwrap(), "an answer wakes waiters");
    assert!(store.pending_for(&b.address(), NOW + 1).is_empty());
    assert_eq!(
        code(store.answer(&id, &b.address(), approved(), NOW + 2)),
        ErrorCode::ApprovalAnswered
    );
    assert_eq!(
        code(store.request_for_approver(&id, &b.address(), NOW + 2)),
        ErrorCode::ApprovalAnswered
    );
    assert_eq!(
        code(store.request_for_approver(&id, &c.address(), NOW + 2)),
        ErrorCode::ApprovalNotYours
    );
    // The same signed request cannot be submitted again while it is held.
    assert_eq!(
        code(store.insert(r, Pool::Registered, NOW + 2)),
        ErrorCode::ApprovalAnswered
    );
}

#[test]
fn approvals_expire_lazily_and_are_retained() {
    let store = Approvals::default();
    let (a, b) = (key(1), key(2));
    let r = request_from(&a, b.address(), 10);
    let id = r.request_id.clone();
    store.insert(r, Pool::Registered, NOW).unwrap();
    assert_eq!(store.pending_for(&b.address(), NOW + 9).len(), 1);
    assert!(store.pending_for(&b.address(), NOW + 10).is_empty());
    let (s, _) = store
        .status_for_requester(&id, &a.address(), NOW + 10)
        .unwrap();
    assert_eq!(s.state, ApprovalState::Expired);
    assert_eq!(
        code(store.answer(&id, &b.address(), approved(), NOW + 10)),
        ErrorCode::ApprovalExpired
    );
    assert_eq!(
        code(store.request_for_approver(&id, &b.address(), NOW + 10)),
        ErrorCode::ApprovalExpired
    );
    // Still readable a minute after its expiry; dropped once retention has passed (a sweep
    // runs on the next insert).
    let (s, _) = store
        .status_for_requester(&id, &a.address(), NOW + 10 + 60)
        .unwrap();
    assert_eq!(s.state, ApprovalState::Expired);
    store
        .insert(
            request_from(&a, b.address(), 10),
            Pool::Registered,
            NOW + 10 + RETAIN_SECS,
        )
        .unwrap();
    assert_eq!(
        code(store.status_for_requester(&id, &a.address(), NOW + 10 + RETAIN_SECS)),
        ErrorCode::ApprovalNotFound
    );
    assert_eq!(store.len(), 1);
}

#[test]
fn approvals_are_bounded_per_operator() {
    let store = Approvals::default();
    let (a, b) = (key(1), key(2));
    let mut ids = Vec::new();
    for _ in 0..MAX_PENDING_PER_OPERATOR {
        let r = request_from(&a, b.address(), 60);
        ids.push(r.request_id.clone());
        store.insert(r, Pool::Registered, NOW).unwrap();
    }
    assert_eq!(
        code(store.insert(request_from(&a, b.address(), 60), Pool::Registered, NOW)),
        ErrorCode::ApprovalsFull
    );
    // Another operator is not affected.
    let other = key(4);
    store
        .insert(request_from(&other, b.address(), 60), Pool::Registered, NOW)
        .unwrap();
    // Answered entries stop counting as pending but stay retained, up to a bound.
    for id in &ids {
        let declined = ApprovalAnswer::Declined {
            reason: "no".into(),
        };
        store.answer(id, &b.address(), declined, NOW).unwrap();
    }
    for _ in 0..(MAX_ENTRIES_PER_OPERATOR - MAX_PENDING_PER_OPERATOR) {
        store
            .insert(request_from(&a, b.address(), 60), Pool::Registered, NOW)
            .unwrap();
    }
    assert_eq!(
        code(store.insert(request_from(&a, b.address(), 60), Pool::Registered, NOW)),
        ErrorCode::ApprovalsFull
    );
    // Once retention has passed, there is room again.
    store
        .insert(
            request_from(&a, b.address(), 60),
            Pool::Registered,
            NOW + 60 + RETAIN_SECS,
        )
        .unwrap();
}

#[test]
fn approvals_stream_order_is_oldest_first() {
    let store = Approvals::default();
    let (a, b) = (key(1), key(2));
    let mut reqs: Vec<ApprovalRequest> =
        (0..5).map(|_| request_from(&a, b.address(), 60)).collect();
    for r in &reqs {
        store.insert(r.clone(), Pool::Registered, NOW).unwrap();
    }
    reqs.sort_by(|x, y| x.request_id.cmp(&y.request_id));
    assert_eq!(store.pending_for(&b.address(), NOW), reqs);
}

/// Keys made up by the thousand, each asking for its own first registration, fill only their
/// own small pool, one request each; a registered master still gets its request in.
#[test]
fn first_registrations_have_a_pool_of_their_own() {
    let store = Approvals::default();
    let approver = key(200).address();
    let throwaway = |i: usize| {
        let mut secret = [0u8; 32];
        secret[..8].copy_from_slice(&(i as u64 + 1000).to_be_bytes());
        DeviceKey::from_bytes(&secret).unwrap()
    };
    let first = throwaway(0);
    store
        .insert(
            request_from(&first, approver, 60),
            Pool::FirstRegistration,
            NOW,
        )
        .unwrap();
    assert_eq!(
        code(store.insert(
            request_from(&first, approver, 60),
            Pool::FirstRegistration,
            NOW
        )),
        ErrorCode::ApprovalsFull,
        "one pending registration request per device"
    );
    for i in 1..MAX_FIRST_REGISTRATION_ENTRIES {
        store
            .insert(
                request_from(&throwaway(i), approver, 60),
                Pool::FirstRegistration,
                NOW,
            )
            .unwrap();
    }
    let late = throwaway(MAX_FIRST_REGISTRATION_ENTRIES);
    assert_eq!(
        code(store.insert(
            request_from(&late, approver, 60),
            Pool::FirstRegistration,
            NOW
        )),
        ErrorCode::ApprovalsFull
    );
    // The registered pool is untouched by the flood.
    let master = key(7);
    store
        .insert(request_from(&master, approver, 60), Pool::Registered, NOW)
        .unwrap();
    assert_eq!(store.len(), MAX_FIRST_REGISTRATION_ENTRIES + 1);
    // A device whose request ended may ask again once it is no longer retained.
    store
        .insert(
            request_from(&first, approver, 60),
            Pool::FirstRegistration,
            NOW + 60 + RETAIN_SECS,
        )
        .unwrap();
}
