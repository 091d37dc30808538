//! SidecarRegistry on revm with real WebAuthn assertions from P-256 keys made here. Each
//! refusal is checked for its exact custom error (the K11 ones bubble up from K11Verifier), and
//! everything runs with the RIP-7212 precompile (OSAKA) and without it (PRAGUE).
//! Gas table: `cargo test -p agentkeys-contracts --test sidecar_registry gas -- --nocapture`.

mod common;

use agentkeys_contracts::bindings::{K11Verifier, SidecarRegistry};
use agentkeys_contracts::{Evm, Receipt, Revert, SpecId};
use alloy::primitives::{keccak256, Address, Bytes, B256, U256};
use alloy::sol_types::{SolCall, SolError, SolValue};
use common::registry::*;
use common::webauthn::{sha256, Passkey, Signed, UP};
use common::CHAIN_ID;

use SidecarRegistry as R;

const TIER_MASTER: u8 = 1;
const TIER_AGENT: u8 = 2;
const ACTOR_ACTIVE: u8 = 1;
const ACTOR_REVOKED: u8 = 2;

fn abi(s: Signed) -> R::WebAuthnAssertion {
    s.into()
}

struct Chain {
    evm: Evm,
    registry: Address,
    spec: SpecId,
}

impl Chain {
    fn new(spec: SpecId) -> Chain {
        let mut evm = new_chain(spec);
        let registry = deploy_verifiers_and_registry(&mut evm);
        Chain {
            evm,
            registry,
            spec,
        }
    }

    fn send<C: SolCall>(&mut self, from: Address, call: C) -> Result<Receipt, Revert> {
        self.evm
            .transact(from, self.registry, call.abi_encode().into())
    }

    fn view<C: SolCall>(&mut self, call: C) -> C::Return {
        let out = self
            .evm
            .call(outsider(), self.registry, call.abi_encode().into())
            .expect("view");
        C::abi_decode_returns(&out).expect("decode")
    }

    fn nonce(&mut self, op: B256) -> U256 {
        self.view(R::operatorNonceCall { operatorOmni: op })
    }

    fn device(&mut self, hash: B256) -> R::Device {
        self.view(R::getDeviceCall {
            deviceKeyHash: hash,
        })
    }

    fn threshold(&mut self, op: B256) -> U256 {
        self.view(R::recoveryThresholdCall { operatorOmni: op })
    }

    fn recovery_masters(&mut self, op: B256) -> U256 {
        self.view(R::activeRecoveryMastersCall { operatorOmni: op })
    }

    fn passkey_owner(&mut self, x: U256, y: U256) -> B256 {
        self.view(R::passkeyDeviceCall { k11X: x, k11Y: y })
    }

    fn active(&mut self, hash: B256) -> bool {
        self.view(R::isActiveCall {
            deviceKeyHash: hash,
        })
    }

    /// The challenge computed here, checked against the contract's `challengeFor`.
    fn challenge(&mut self, op_tag: B256, op: B256, params: B256) -> B256 {
        let nonce = self.nonce(op);
        let local = keccak256(
            (
                op_tag,
                op,
                params,
                U256::from(CHAIN_ID),
                self.registry,
                nonce,
            )
                .abi_encode_params(),
        );
        let remote = self.view(R::challengeForCall {
            opTag: op_tag,
            operatorOmni: op,
            paramsHash: params,
        });
        assert_eq!(local, remote, "{:?}: challengeFor", self.spec);
        local
    }

    fn first_call(&mut self, m: &Master) -> R::registerFirstMasterDeviceCall {
        let ch = self.challenge(
            tag("agentkeys.registerFirstMaster.v1"),
            operator_omni(m.address),
            m.registration_params(),
        );
        let (x, y) = m.passkey.public();
        R::registerFirstMasterDeviceCall {
            roles: m.roles,
            k11X: x,
            k11Y: y,
            rpIdHash: m.passkey.rp_id_hash(),
            assertion: abi(m.passkey.assert(ch)),
        }
    }

    fn register_first(&mut self, m: &Master) -> Receipt {
        let call = self.first_call(m);
        self.send(m.address, call)
            .expect("registerFirstMasterDevice")
    }

    fn add_challenge(&mut self, op: B256, new: &Master) -> B256 {
        self.challenge(
            tag("agentkeys.registerAdditionalMaster.v1"),
            op,
            new.registration_params(),
        )
    }

    /// Approved by `approvers`, and proven by the new device's own passkey.
    fn add_call(
        &mut self,
        op: B256,
        new: &Master,
        approvers: &[&Master],
    ) -> R::registerAdditionalMasterDeviceCall {
        let ch = self.add_challenge(op, new);
        R::registerAdditionalMasterDeviceCall {
            m: new.as_new_master(),
            deviceSig: new.consent(self.registry, op),
            approverDeviceKeyHashes: approvers.iter().map(|m| m.hash()).collect(),
            assertions: approvers
                .iter()
                .map(|m| abi(m.passkey.assert(ch)))
                .collect(),
            newDeviceAssertion: abi(new.passkey.assert(ch)),
        }
    }

    fn threshold_call(
        &mut self,
        op: B256,
        threshold: u64,
        approvers: &[&Master],
    ) -> R::setRecoveryThresholdCall {
        let new = U256::from(threshold);
        let ch = self.challenge(
            tag("agentkeys.setRecoveryThreshold.v1"),
            op,
            keccak256(new.abi_encode()),
        );
        R::setRecoveryThresholdCall {
            newThreshold: new,
            approverDeviceKeyHashes: approvers.iter().map(|m| m.hash()).collect(),
            assertions: approvers
                .iter()
                .map(|m| abi(m.passkey.assert(ch)))
                .collect(),
        }
    }

    fn revoke_call(
        &mut self,
        op: B256,
        target: B256,
        approvers: &[&Master],
    ) -> R::revokeMasterDeviceCall {
        let ch = self.challenge(
            tag("agentkeys.revokeMaster.v1"),
            op,
            keccak256(target.abi_encode()),
        );
        R::revokeMasterDeviceCall {
            targetDeviceKeyHash: target,
            approverDeviceKeyHashes: approvers.iter().map(|m| m.hash()).collect(),
            assertions: approvers
                .iter()
                .map(|m| abi(m.passkey.assert(ch)))
                .collect(),
        }
    }

    /// `registerAgentDevice` of agent `label`/`generation` of operator `op`, with the agent
    /// key's consent.
    fn agent_call(
        &self,
        op: B256,
        agent: &K10,
        label: &str,
        generation: u32,
    ) -> R::registerAgentDeviceCall {
        let actor = agent_actor(op, label, generation);
        R::registerAgentDeviceCall {
            agent: agent.address,
            label: label.into(),
            generation,
            agentSig: agent.sign(agent_consent(self.registry, op, actor, agent.address)),
        }
    }

    /// `m` registered as the first master of its own operator without a passkey.
    fn register_without_passkey(&mut self, m: &Master) -> Receipt {
        self.send(m.address, R::registerFirstMasterDeviceWithoutPasskeyCall {})
            .expect("registerFirstMasterDeviceWithoutPasskey")
    }

    /// The OP_ATTACH_PASSKEY challenge for `m` attaching its own passkey to operator `op`:
    /// paramsHash = keccak256(abi.encode(submitter, k11X, k11Y, rpIdHash)).
    fn attach_challenge(&mut self, op: B256, m: &Master) -> B256 {
        let (x, y) = m.passkey.public();
        let params = keccak256((m.address, x, y, m.passkey.rp_id_hash()).abi_encode_params());
        self.challenge(tag("agentkeys.attachPasskey.v1"), op, params)
    }

    /// `m` (submitting) attaches its passkey to operator `op`, asserted by that passkey.
    fn attach_call(&mut self, op: B256, m: &Master) -> R::attachPasskeyCall {
        let ch = self.attach_challenge(op, m);
        let (x, y) = m.passkey.public();
        R::attachPasskeyCall {
            k11X: x,
            k11Y: y,
            rpIdHash: m.passkey.rp_id_hash(),
            assertion: abi(m.passkey.assert(ch)),
        }
    }

    /// A passkey-less first master `m`; its operator.
    fn passkey_less_operator(&mut self, m: &Master) -> B256 {
        self.register_without_passkey(m);
        operator_omni(m.address)
    }

    /// An operator with `n` masters holding every role, the first one first.
    fn operator(&mut self, n: u8) -> (B256, Vec<Master>) {
        let masters: Vec<Master> = (1..=n).map(|i| Master::new(i, ALL)).collect();
        self.register_first(&masters[0]);
        let op = operator_omni(masters[0].address);
        for m in &masters[1..] {
            let call = self.add_call(op, m, &[&masters[0]]);
            self.send(masters[0].address, call)
                .expect("registerAdditionalMasterDevice");
        }
        (op, masters)
    }
}

#[test]
fn operator_omni_matches_rust_derivation() {
    let mut chain = Chain::new(SpecId::OSAKA);
    for a in [
        Address::ZERO,
        Address::repeat_byte(0xab),
        Address::repeat_byte(0x12),
        "0xDeaDbeefdEAdbeefdEadbEEFdeadbeEFdEaDbeeF"
            .parse()
            .unwrap(),
    ] {
        let on_chain: B256 = chain.view(R::operatorOmniOfCall { firstMaster: a });
        assert_eq!(on_chain, operator_omni(a), "{a}");
        let hash: B256 = chain.view(R::deviceKeyHashOfCall { device: a });
        assert_eq!(hash, device_hash(a));
    }
    // The value agentkeys_core computes for 0xabab…ab (as lowercase text).
    let text = format!("0x{}", "ab".repeat(20));
    let expected = B256::from(sha256(
        [b"agentkeys".as_slice(), b"evm", text.as_bytes()]
            .concat()
            .as_slice(),
    ));
    assert_eq!(operator_omni(Address::repeat_byte(0xab)), expected);
}

#[test]
fn op_tags_are_public_constants() {
    let mut chain = Chain::new(SpecId::OSAKA);
    let first: B256 = chain.view(R::OP_REGISTER_FIRST_MASTERCall {});
    assert_eq!(first, tag("agentkeys.registerFirstMaster.v1"));
    let add: B256 = chain.view(R::OP_REGISTER_ADDITIONAL_MASTERCall {});
    assert_eq!(add, tag("agentkeys.registerAdditionalMaster.v1"));
    let revoke: B256 = chain.view(R::OP_REVOKE_MASTERCall {});
    assert_eq!(revoke, tag("agentkeys.revokeMaster.v1"));
    let threshold: B256 = chain.view(R::OP_SET_RECOVERY_THRESHOLDCall {});
    assert_eq!(threshold, tag("agentkeys.setRecoveryThreshold.v1"));
    let attach: B256 = chain.view(R::OP_ATTACH_PASSKEYCall {});
    assert_eq!(attach, tag("agentkeys.attachPasskey.v1"));
}

#[test]
fn first_master_registration() {
    for spec in SPECS {
        let mut chain = Chain::new(spec);
        let m = Master::new(1, ALL);
        let op = operator_omni(m.address);
        assert_eq!(chain.nonce(op), U256::ZERO);
        let receipt = chain.register_first(&m);

        let registered = events::<R::OperatorRegistered>(&receipt, chain.registry);
        assert_eq!(registered.len(), 1);
        assert_eq!(registered[0].operatorOmni, op);
        assert_eq!(registered[0].firstMaster, m.address);
        let added = events::<R::MasterDeviceRegistered>(&receipt, chain.registry);
        assert_eq!(added.len(), 1);
        assert_eq!(
            (
                added[0].operatorOmni,
                added[0].deviceKeyHash,
                added[0].device,
                added[0].roles
            ),
            (op, m.hash(), m.address, ALL)
        );
        assert_eq!(added[0].approverDeviceKeyHashes, vec![m.hash()]);

        let d = chain.device(m.hash());
        let (x, y) = m.passkey.public();
        assert_eq!(d.device, m.address);
        assert_eq!(d.operatorOmni, op);
        assert_eq!(d.actorOmni, op, "a master acts for itself");
        assert_eq!((d.tier, d.roles), (TIER_MASTER, ALL));
        assert_eq!((d.k11X, d.k11Y, d.rpIdHash), (x, y, m.passkey.rp_id_hash()));
        assert_eq!(d.lastSignCount, 1);
        assert!(!d.revoked);
        assert_eq!(d.registeredAt.to::<u64>(), chain.evm.timestamp());
        assert!(chain.active(m.hash()));
        assert_eq!(chain.nonce(op), U256::from(1));
        assert_eq!(
            chain.view(R::recoveryThresholdCall { operatorOmni: op }),
            U256::from(1)
        );
        assert_eq!(
            chain.view(R::activeRecoveryMastersCall { operatorOmni: op }),
            U256::from(1)
        );
        assert_eq!(
            chain.view(R::getOperatorDevicesCall { operatorOmni: op }),
            vec![m.hash()]
        );
        // Unknown devices and operators.
        assert!(!chain.active(B256::repeat_byte(7)));
        assert_eq!(chain.device(B256::repeat_byte(7)).tier, 0);
        assert_eq!(
            chain.view(R::recoveryThresholdCall {
                operatorOmni: B256::repeat_byte(7)
            }),
            U256::ZERO
        );
    }
}

#[test]
fn first_master_cannot_be_front_run() {
    for spec in SPECS {
        let mut chain = Chain::new(spec);
        let m = Master::new(1, ALL);
        let call = chain.first_call(&m);
        // Another sender replaying the pending transaction derives another operator and
        // another device, so the passkey's assertion does not match its challenge.
        expect::<K11Verifier::ChallengeMismatch>(chain.send(outsider(), call.clone()));
        assert!(!chain.active(device_hash(outsider())));
        assert_eq!(
            chain.view(R::recoveryThresholdCall {
                operatorOmni: operator_omni(outsider())
            }),
            U256::ZERO
        );
        // Nor can the attacker swap in its own passkey under the victim's assertion.
        let attacker = Passkey::new(0x77, "localhost");
        let (x, y) = attacker.public();
        let mut swapped = call.clone();
        swapped.k11X = x;
        swapped.k11Y = y;
        expect::<K11Verifier::ChallengeMismatch>(chain.send(m.address, swapped));
        // The genuine submission still goes through.
        chain
            .send(m.address, call)
            .expect("the real device registers");
    }
}

#[test]
fn second_first_registration_refused() {
    for spec in SPECS {
        let mut chain = Chain::new(spec);
        let (op, masters) = chain.operator(2);
        let call = chain.first_call(&masters[0]);
        let err = expect::<R::OperatorAlreadyRegistered>(chain.send(masters[0].address, call));
        assert_eq!(err.operatorOmni, op);
        // An additional master is already a device, even though its own address names a
        // different (unregistered) operator.
        let call = chain.first_call(&masters[1]);
        let err = expect::<R::DeviceAlreadyRegistered>(chain.send(masters[1].address, call));
        assert_eq!(err.deviceKeyHash, masters[1].hash());
    }
}

#[test]
fn first_master_input_checks() {
    for spec in SPECS {
        let mut chain = Chain::new(spec);
        let m = Master::new(1, CAP_MINT | SCOPE_MGMT);
        let call = chain.first_call(&m);
        let err = expect::<R::WouldStrandOperator>(chain.send(m.address, call));
        assert_eq!(
            (err.remainingRecoveryMasters, err.required),
            (U256::ZERO, U256::from(1))
        );

        let m = Master::new(1, ALL | 8);
        let call = chain.first_call(&m);
        assert_eq!(
            expect::<R::InvalidRoles>(chain.send(m.address, call)).roles,
            ALL | 8
        );

        let m = Master::new(1, ALL);
        let mut call = chain.first_call(&m);
        call.k11X = U256::ZERO;
        expect::<R::InvalidPasskey>(chain.send(m.address, call));

        // UV missing.
        let op = operator_omni(m.address);
        let ch = chain.challenge(
            tag("agentkeys.registerFirstMaster.v1"),
            op,
            m.registration_params(),
        );
        let mut call = chain.first_call(&m);
        call.assertion = abi(m.passkey.assert_with(ch, |p| p.flags = UP));
        expect::<K11Verifier::UserNotVerified>(chain.send(m.address, call));

        // An assertion made for another RP ID than the one being registered.
        let mut call = chain.first_call(&m);
        call.assertion = abi(m.passkey.assert_with(ch, |p| p.rp_id = "evil.example"));
        expect::<K11Verifier::RpIdHashMismatch>(chain.send(m.address, call));

        // A webauthn.create payload is not an assertion.
        let mut call = chain.first_call(&m);
        call.assertion = abi(m
            .passkey
            .assert_with(ch, |p| p.ceremony = "webauthn.create"));
        expect::<K11Verifier::WrongType>(chain.send(m.address, call));

        chain.register_first(&m);
    }
}

#[test]
fn first_master_without_passkey() {
    for spec in SPECS {
        let mut chain = Chain::new(spec);
        // `m.passkey` is not used: the chain never sees a passkey here.
        let m = Master::new(1, CAP_MINT);
        let op = operator_omni(m.address);
        let receipt = chain.register_without_passkey(&m);

        let registered = events::<R::OperatorRegistered>(&receipt, chain.registry);
        assert_eq!(registered.len(), 1);
        assert_eq!(
            (registered[0].operatorOmni, registered[0].firstMaster),
            (op, m.address)
        );
        let added = events::<R::MasterDeviceRegistered>(&receipt, chain.registry);
        assert_eq!(added.len(), 1);
        assert_eq!(
            (
                added[0].operatorOmni,
                added[0].deviceKeyHash,
                added[0].device,
                added[0].roles
            ),
            (op, m.hash(), m.address, CAP_MINT)
        );
        assert!(
            added[0].approverDeviceKeyHashes.is_empty(),
            "no passkey approved it"
        );

        let d = chain.device(m.hash());
        assert_eq!(d.device, m.address);
        assert_eq!((d.operatorOmni, d.actorOmni), (op, op));
        assert_eq!((d.tier, d.roles), (TIER_MASTER, CAP_MINT));
        assert_eq!(
            (d.k11X, d.k11Y, d.rpIdHash),
            (U256::ZERO, U256::ZERO, B256::ZERO)
        );
        assert_eq!(d.lastSignCount, 0);
        assert!(!d.revoked);
        assert_eq!(d.registeredAt.to::<u64>(), chain.evm.timestamp());
        assert!(chain.active(m.hash()));
        assert_eq!(chain.nonce(op), U256::from(1));
        assert_eq!(chain.threshold(op), U256::from(1));
        assert_eq!(chain.recovery_masters(op), U256::ZERO);
        assert_eq!(
            chain.view(R::getOperatorDevicesCall { operatorOmni: op }),
            vec![m.hash()]
        );
        // No passkey is recorded, not even the zero key.
        assert_eq!(chain.passkey_owner(U256::ZERO, U256::ZERO), B256::ZERO);
        let (x, y) = m.passkey.public();
        assert_eq!(chain.passkey_owner(x, y), B256::ZERO);
    }
}

#[test]
fn second_registration_with_or_without_passkey_refused() {
    for spec in SPECS {
        let mut chain = Chain::new(spec);
        let without = R::registerFirstMasterDeviceWithoutPasskeyCall {};

        // Registered without a passkey, then again either way.
        let m = Master::new(5, ALL);
        let op = chain.passkey_less_operator(&m);
        let err = expect::<R::OperatorAlreadyRegistered>(chain.send(m.address, without.clone()));
        assert_eq!(err.operatorOmni, op);
        let call = chain.first_call(&m);
        let err = expect::<R::OperatorAlreadyRegistered>(chain.send(m.address, call));
        assert_eq!(err.operatorOmni, op);
        let d = chain.device(m.hash());
        assert_eq!(
            (d.roles, d.k11X, d.k11Y),
            (CAP_MINT, U256::ZERO, U256::ZERO)
        );
        assert_eq!(chain.nonce(op), U256::from(1));
        assert_eq!(chain.recovery_masters(op), U256::ZERO);
        let (x, y) = m.passkey.public();
        assert_eq!(chain.passkey_owner(x, y), B256::ZERO);

        // Registered with a passkey, then again without one.
        let (op2, masters) = chain.operator(2);
        let err =
            expect::<R::OperatorAlreadyRegistered>(chain.send(masters[0].address, without.clone()));
        assert_eq!(err.operatorOmni, op2);
        assert_eq!(chain.device(masters[0].hash()).roles, ALL);
        assert_eq!(chain.nonce(op2), U256::from(2));
        assert_eq!(chain.recovery_masters(op2), U256::from(2));

        // Devices already registered (an additional master, an agent) name operators of their
        // own that do not exist yet, but are refused as devices.
        let err =
            expect::<R::DeviceAlreadyRegistered>(chain.send(masters[1].address, without.clone()));
        assert_eq!(err.deviceKeyHash, masters[1].hash());
        let agent_key = K10::new(0x61);
        let agent = agent_key.address;
        let call = chain.agent_call(op2, &agent_key, "bot", 1);
        chain
            .send(masters[0].address, call)
            .expect("registerAgentDevice");
        let err = expect::<R::DeviceAlreadyRegistered>(chain.send(agent, without));
        assert_eq!(err.deviceKeyHash, device_hash(agent));
        for a in [masters[1].address, agent] {
            assert_eq!(chain.threshold(operator_omni(a)), U256::ZERO);
        }
        assert_eq!(chain.device(device_hash(agent)).tier, TIER_AGENT);
    }
}

#[test]
fn passkey_less_operator_cannot_use_k11() {
    for spec in SPECS {
        let mut chain = Chain::new(spec);
        // `m.passkey` is a passkey the device holds but never attached.
        let m = Master::new(1, ALL);
        let op = chain.passkey_less_operator(&m);
        let new = Master::new(2, ALL);

        // Adding a master: no approval is short of the quorum of 1, and neither the master
        // (no RECOVERY, no passkey on chain) nor the new device may approve.
        let call = chain.add_call(op, &new, &[]);
        let err = expect::<R::NotEnoughApprovals>(chain.send(m.address, call));
        assert_eq!((err.given, err.required), (U256::ZERO, U256::from(1)));
        let call = chain.add_call(op, &new, &[&m]);
        let err = expect::<R::NotRecoveryApprover>(chain.send(m.address, call));
        assert_eq!(err.deviceKeyHash, m.hash());
        let call = chain.add_call(op, &new, &[&new]);
        let err = expect::<R::NotRecoveryApprover>(chain.send(m.address, call));
        assert_eq!(err.deviceKeyHash, new.hash());

        // The threshold: with no RECOVERY master no value is valid.
        for t in [1, 0] {
            let call = chain.threshold_call(op, t, &[&m]);
            let err = expect::<R::InvalidThreshold>(chain.send(m.address, call));
            assert_eq!(
                (err.threshold, err.activeRecoveryMasters),
                (U256::from(t), U256::ZERO)
            );
        }

        // Revoking the master: no approval is short of the quorum, and with its own "approval"
        // the operator would be left without a RECOVERY master (refused before any assertion).
        let call = chain.revoke_call(op, m.hash(), &[]);
        let err = expect::<R::NotEnoughApprovals>(chain.send(m.address, call));
        assert_eq!((err.given, err.required), (U256::ZERO, U256::from(1)));
        let call = chain.revoke_call(op, m.hash(), &[&m]);
        let err = expect::<R::WouldStrandOperator>(chain.send(m.address, call));
        assert_eq!(
            (err.remainingRecoveryMasters, err.required),
            (U256::ZERO, U256::from(1))
        );

        assert!(!chain.active(new.hash()));
        assert!(chain.active(m.hash()));
        assert_eq!(chain.device(m.hash()).roles, CAP_MINT);
        assert_eq!(chain.nonce(op), U256::from(1));
        assert_eq!(chain.threshold(op), U256::from(1));

        // Agents need SCOPE_MGMT, which a passkey-less master lacks.
        let agent = K10::new(0x61);
        let call = chain.agent_call(op, &agent, "bot", 1);
        let err = expect::<R::MissingRole>(chain.send(m.address, call));
        assert_eq!((err.submitter, err.role), (m.address, SCOPE_MGMT));
        assert!(!chain.active(device_hash(agent.address)));
        assert_eq!(
            chain.view(R::getOperatorDevicesCall { operatorOmni: op }),
            vec![m.hash()]
        );
    }
}

#[test]
fn attach_passkey() {
    for spec in SPECS {
        let mut chain = Chain::new(spec);
        let m = Master::new(1, ALL);
        let op = chain.passkey_less_operator(&m);
        let registered_at = chain.device(m.hash()).registeredAt;

        let call = chain.attach_call(op, &m);
        let receipt = chain.send(m.address, call.clone()).expect("attachPasskey");
        let ev = events::<R::PasskeyAttached>(&receipt, chain.registry);
        assert_eq!(ev.len(), 1);
        assert_eq!(
            (ev[0].operatorOmni, ev[0].deviceKeyHash, ev[0].roles),
            (op, m.hash(), ALL)
        );
        assert!(events::<R::MasterDeviceRegistered>(&receipt, chain.registry).is_empty());
        assert!(events::<R::OperatorRegistered>(&receipt, chain.registry).is_empty());

        let d = chain.device(m.hash());
        let (x, y) = m.passkey.public();
        assert_eq!(d.device, m.address);
        assert_eq!(
            (d.tier, d.roles, d.operatorOmni, d.actorOmni),
            (TIER_MASTER, ALL, op, op)
        );
        assert_eq!((d.k11X, d.k11Y, d.rpIdHash), (x, y, m.passkey.rp_id_hash()));
        assert_eq!(d.lastSignCount, 1, "the attached passkey's count stored");
        assert_eq!(d.registeredAt, registered_at);
        assert!(!d.revoked);
        assert!(chain.active(m.hash()));
        assert_eq!(chain.passkey_owner(x, y), m.hash());
        assert_eq!(chain.nonce(op), U256::from(2));
        assert_eq!(chain.recovery_masters(op), U256::from(1));
        assert_eq!(chain.threshold(op), U256::from(1));
        assert_eq!(
            chain.view(R::getOperatorDevicesCall { operatorOmni: op }),
            vec![m.hash()]
        );

        // Replayed: the operator has a passkey now.
        let err = expect::<R::OperatorHasPasskey>(chain.send(m.address, call));
        assert_eq!(err.operatorOmni, op);

        // The attached passkey approves K11-gated changes: a second master, then threshold 2.
        let second = Master::new(2, ALL);
        let call = chain.add_call(op, &second, &[&m]);
        let receipt = chain
            .send(m.address, call)
            .expect("registerAdditionalMasterDevice");
        let ev = events::<R::MasterDeviceRegistered>(&receipt, chain.registry);
        assert_eq!(ev[0].approverDeviceKeyHashes, vec![m.hash()]);
        assert_eq!(chain.device(m.hash()).lastSignCount, 2);
        assert_eq!(chain.recovery_masters(op), U256::from(2));
        let call = chain.threshold_call(op, 2, &[&m]);
        let receipt = chain.send(m.address, call).expect("setRecoveryThreshold");
        let ev = events::<R::RecoveryThresholdChanged>(&receipt, chain.registry);
        assert_eq!(
            (ev[0].oldThreshold, ev[0].newThreshold),
            (U256::from(1), U256::from(2))
        );
        assert_eq!(chain.threshold(op), U256::from(2));
        assert_eq!(chain.nonce(op), U256::from(4));

        // No further attach, by either master, with a fresh passkey.
        for submitter in [m.address, second.address] {
            let fresh = Master {
                address: submitter,
                passkey: Passkey::new(0x55, "localhost"),
                ..Master::new(0x0e, ALL)
            };
            let call = chain.attach_call(op, &fresh);
            let err = expect::<R::OperatorHasPasskey>(chain.send(submitter, call));
            assert_eq!(err.operatorOmni, op);
        }
        assert_eq!(chain.device(second.hash()).k11X, second.passkey.public().0);
    }
}

#[test]
fn attach_passkey_refusals() {
    for spec in SPECS {
        let mut chain = Chain::new(spec);
        let m = Master::new(5, ALL);
        let op = chain.passkey_less_operator(&m);
        // A passkey-less operator has no agents; an agent of another operator is no master.
        let other = Master::new(0x0f, ALL);
        chain.register_first(&other);
        let (other_op, others) = (operator_omni(other.address), [other]);
        let agent_key = K10::new(0x61);
        let agent = agent_key.address;
        let call = chain.agent_call(other_op, &agent_key, "bot", 1);
        chain
            .send(others[0].address, call)
            .expect("registerAgentDevice");

        // Submitters that are no active master: an outsider, an agent, and that agent once
        // revoked.
        let call = chain.attach_call(op, &m);
        let err = expect::<R::NotActiveMaster>(chain.send(outsider(), call.clone()));
        assert_eq!(err.submitter, outsider());
        let err = expect::<R::NotActiveMaster>(chain.send(agent, call.clone()));
        assert_eq!(err.submitter, agent);
        chain
            .send(
                others[0].address,
                R::revokeAgentDeviceCall {
                    deviceKeyHash: device_hash(agent),
                },
            )
            .expect("revokeAgentDevice");
        let err = expect::<R::NotActiveMaster>(chain.send(agent, call));
        assert_eq!(err.submitter, agent);

        // Zero coordinates.
        let mut call = chain.attach_call(op, &m);
        call.k11X = U256::ZERO;
        expect::<R::InvalidPasskey>(chain.send(m.address, call));
        let mut call = chain.attach_call(op, &m);
        call.k11Y = U256::ZERO;
        expect::<R::InvalidPasskey>(chain.send(m.address, call));

        // The assertion: over another challenge, over another operation's challenge for the
        // same device and passkey, by another key, without UV, for another RP ID, and a
        // webauthn.create payload.
        let ch = chain.attach_challenge(op, &m);
        let mut call = chain.attach_call(op, &m);
        call.assertion = abi(m.passkey.assert(B256::repeat_byte(0x5a)));
        expect::<K11Verifier::ChallengeMismatch>(chain.send(m.address, call.clone()));
        let first_ch = chain.challenge(
            tag("agentkeys.registerFirstMaster.v1"),
            op,
            m.registration_params(),
        );
        call.assertion = abi(m.passkey.assert(first_ch));
        expect::<K11Verifier::ChallengeMismatch>(chain.send(m.address, call.clone()));
        call.assertion = abi(Passkey::new(0x77, "localhost").assert(ch));
        expect::<K11Verifier::BadSignature>(chain.send(m.address, call.clone()));
        call.assertion = abi(m.passkey.assert_with(ch, |p| p.flags = UP));
        expect::<K11Verifier::UserNotVerified>(chain.send(m.address, call.clone()));
        call.assertion = abi(m.passkey.assert_with(ch, |p| p.rp_id = "evil.example"));
        expect::<K11Verifier::RpIdHashMismatch>(chain.send(m.address, call.clone()));
        call.assertion = abi(m
            .passkey
            .assert_with(ch, |p| p.ceremony = "webauthn.create"));
        expect::<K11Verifier::WrongType>(chain.send(m.address, call));

        // Another key swapped in under the device's assertion, and the device's transaction
        // replayed by another passkey-less master, whose operator and address the challenge
        // does not name.
        let mut swapped = chain.attach_call(op, &m);
        let (x, y) = Passkey::new(0x77, "localhost").public();
        swapped.k11X = x;
        swapped.k11Y = y;
        expect::<K11Verifier::ChallengeMismatch>(chain.send(m.address, swapped));
        let other = Master::new(6, ALL);
        let other_op = chain.passkey_less_operator(&other);
        let call = chain.attach_call(op, &m);
        expect::<K11Verifier::ChallengeMismatch>(chain.send(other.address, call.clone()));
        assert_eq!(chain.recovery_masters(other_op), U256::ZERO);

        // Replayed on another chain, where the same device is registered without a passkey.
        let mut elsewhere = Evm::new(CHAIN_ID + 1, spec);
        let registry = deploy_verifiers_and_registry(&mut elsewhere);
        let without = R::registerFirstMasterDeviceWithoutPasskeyCall {};
        elsewhere
            .transact(m.address, registry, without.abi_encode().into())
            .expect("registerFirstMasterDeviceWithoutPasskey elsewhere");
        expect::<K11Verifier::ChallengeMismatch>(elsewhere.transact(
            m.address,
            registry,
            call.abi_encode().into(),
        ));

        // A passkey already held by a master of another operator, even a revoked one. Every
        // assertion is valid, so only the uniqueness check can refuse it.
        let (op2, masters) = chain.operator(2);
        let call = chain.revoke_call(op2, masters[1].hash(), &[&masters[0]]);
        chain
            .send(masters[0].address, call)
            .expect("revokeMasterDevice");
        for (seed, holder) in [(0x41, &masters[0]), (0x42, &masters[1])] {
            let twin = Master {
                address: m.address,
                passkey: Passkey::new(seed, "localhost"),
                ..Master::new(0x0e, ALL)
            };
            assert_eq!(twin.passkey.public(), holder.passkey.public());
            let call = chain.attach_call(op, &twin);
            let err = expect::<R::PasskeyAlreadyRegistered>(chain.send(m.address, call));
            assert_eq!(err.existingDeviceKeyHash, holder.hash());
        }

        // An operator that has a passkey: its active master is refused with
        // OperatorHasPasskey, its revoked one as no active master.
        let call = chain.attach_call(op2, &m);
        let err = expect::<R::OperatorHasPasskey>(chain.send(masters[0].address, call.clone()));
        assert_eq!(err.operatorOmni, op2);
        let err = expect::<R::NotActiveMaster>(chain.send(masters[1].address, call));
        assert_eq!(err.submitter, masters[1].address);

        // Nothing above changed the device or its operator; the genuine attach goes through.
        let d = chain.device(m.hash());
        assert_eq!(
            (d.roles, d.k11X, d.k11Y, d.rpIdHash, d.lastSignCount),
            (CAP_MINT, U256::ZERO, U256::ZERO, B256::ZERO, 0)
        );
        assert_eq!(chain.nonce(op), U256::from(1));
        assert_eq!(chain.recovery_masters(op), U256::ZERO);
        let call = chain.attach_call(op, &m);
        chain.send(m.address, call).expect("attachPasskey");
        assert_eq!(chain.device(m.hash()).roles, ALL);
        assert_eq!(chain.recovery_masters(op), U256::from(1));
    }
}

#[test]
fn additional_master_via_recovery_approval() {
    for spec in SPECS {
        let mut chain = Chain::new(spec);
        let first = Master::new(1, ALL);
        chain.register_first(&first);
        let op = operator_omni(first.address);
        let second = Master::new(2, CAP_MINT | RECOVERY);
        let call = chain.add_call(op, &second, &[&first]);
        let receipt = chain
            .send(first.address, call)
            .expect("registerAdditionalMasterDevice");
        let added = events::<R::MasterDeviceRegistered>(&receipt, chain.registry);
        assert_eq!(added.len(), 1);
        assert_eq!(
            (
                added[0].operatorOmni,
                added[0].deviceKeyHash,
                added[0].device
            ),
            (op, second.hash(), second.address)
        );
        assert_eq!(
            (added[0].roles, added[0].approverDeviceKeyHashes.clone()),
            (CAP_MINT | RECOVERY, vec![first.hash()])
        );
        let d = chain.device(second.hash());
        let (x, y) = second.passkey.public();
        assert_eq!(
            (d.tier, d.roles, d.operatorOmni, d.actorOmni),
            (TIER_MASTER, CAP_MINT | RECOVERY, op, op)
        );
        assert_eq!(
            (d.k11X, d.k11Y, d.rpIdHash),
            (x, y, second.passkey.rp_id_hash())
        );
        assert_eq!(d.lastSignCount, 1, "the new passkey's own count stored");
        assert_eq!(
            chain.device(first.hash()).lastSignCount,
            2,
            "approver's count stored"
        );
        assert_eq!(chain.nonce(op), U256::from(2));
        assert_eq!(
            chain.view(R::activeRecoveryMastersCall { operatorOmni: op }),
            U256::from(2)
        );
        assert_eq!(
            chain.view(R::getOperatorDevicesCall { operatorOmni: op }),
            vec![first.hash(), second.hash()]
        );

        // The new master may now approve and submit; a non-RECOVERY master is counted out.
        let third = Master::new(3, CAP_MINT);
        let call = chain.add_call(op, &third, &[&second]);
        chain.send(second.address, call).expect("second approves");
        assert_eq!(
            chain.view(R::activeRecoveryMastersCall { operatorOmni: op }),
            U256::from(2)
        );
        assert_eq!(chain.device(second.hash()).lastSignCount, 2);
        assert_eq!(chain.device(third.hash()).lastSignCount, 1);

        // A passkey that always reports sign count 0 may be registered; 0 is stored.
        let zero = Master::new(4, CAP_MINT);
        let ch = chain.add_challenge(op, &zero);
        let mut call = chain.add_call(op, &zero, &[&first]);
        call.newDeviceAssertion = abi(zero.passkey.assert_with(ch, |p| p.sign_count = 0));
        chain.send(first.address, call).expect("sign count 0");
        assert_eq!(chain.device(zero.hash()).lastSignCount, 0);
    }
}

#[test]
fn additional_master_refusals() {
    for spec in SPECS {
        let mut chain = Chain::new(spec);
        let (op, masters) = chain.operator(2);
        let [first, second] = [&masters[0], &masters[1]];
        let new = Master::new(5, ALL);

        // A submitter that is no master: an outsider, and an agent of the operator.
        let call = chain.add_call(op, &new, &[first]);
        let err = expect::<R::NotActiveMaster>(chain.send(outsider(), call));
        assert_eq!(err.submitter, outsider());
        let agent_key = K10::new(0x61);
        let agent = agent_key.address;
        let call = chain.agent_call(op, &agent_key, "bot", 1);
        chain.send(first.address, call).unwrap();
        let call = chain.add_call(op, &new, &[first]);
        expect::<R::NotActiveMaster>(chain.send(agent, call));

        // An approver without RECOVERY.
        let plain = Master::new(3, CAP_MINT);
        let call = chain.add_call(op, &plain, &[first]);
        chain.send(first.address, call).unwrap();
        let call = chain.add_call(op, &new, &[&plain]);
        assert_eq!(
            expect::<R::NotRecoveryApprover>(chain.send(first.address, call)).deviceKeyHash,
            plain.hash()
        );

        // An approver of another operator.
        let stranger = Master::new(9, ALL);
        chain.register_first(&stranger);
        let call = chain.add_call(op, &new, &[&stranger]);
        expect::<R::NotRecoveryApprover>(chain.send(first.address, call));

        // No approval, mismatched arrays, the same approver twice.
        let call = chain.add_call(op, &new, &[]);
        let err = expect::<R::NotEnoughApprovals>(chain.send(first.address, call));
        assert_eq!((err.given, err.required), (U256::ZERO, U256::from(1)));
        let mut call = chain.add_call(op, &new, &[first]);
        call.assertions.pop();
        let err = expect::<R::LengthMismatch>(chain.send(first.address, call));
        assert_eq!((err.approvers, err.assertions), (U256::from(1), U256::ZERO));
        let call = chain.add_call(op, &new, &[first, first]);
        assert_eq!(
            expect::<R::DuplicateApprover>(chain.send(first.address, call)).deviceKeyHash,
            first.hash()
        );

        // The new passkey's own assertion: missing, by another key, over another challenge,
        // without UV, for another RP ID, or the approver's assertion passed off as it.
        let ch = chain.add_challenge(op, &new);
        let mut call = chain.add_call(op, &new, &[first]);
        call.newDeviceAssertion = R::WebAuthnAssertion {
            authenticatorData: Bytes::new(),
            clientDataJSON: Bytes::new(),
            challengeLocation: U256::ZERO,
            typeLocation: U256::ZERO,
            r: U256::ZERO,
            s: U256::ZERO,
        };
        expect::<K11Verifier::WrongType>(chain.send(first.address, call));
        let mut call = chain.add_call(op, &new, &[first]);
        call.newDeviceAssertion = abi(Passkey::new(0x77, "localhost").assert(ch));
        expect::<K11Verifier::BadSignature>(chain.send(first.address, call));
        let mut call = chain.add_call(op, &new, &[first]);
        call.newDeviceAssertion = abi(new.passkey.assert(B256::repeat_byte(0x5a)));
        expect::<K11Verifier::ChallengeMismatch>(chain.send(first.address, call));
        let mut call = chain.add_call(op, &new, &[first]);
        call.newDeviceAssertion = abi(new.passkey.assert_with(ch, |p| p.flags = UP));
        expect::<K11Verifier::UserNotVerified>(chain.send(first.address, call));
        let mut call = chain.add_call(op, &new, &[first]);
        call.newDeviceAssertion = abi(new
            .passkey
            .assert_with(ch, |p| p.rp_id = "companion.localhost"));
        expect::<K11Verifier::RpIdHashMismatch>(chain.send(first.address, call));
        let mut call = chain.add_call(op, &new, &[first]);
        call.newDeviceAssertion = call.assertions[0].clone();
        expect::<K11Verifier::BadSignature>(chain.send(first.address, call));
        assert!(!chain.active(new.hash()));

        // A valid approval, then its replay: the nonce moved, so the challenge no longer matches.
        let call = chain.add_call(op, &new, &[first]);
        chain.send(first.address, call.clone()).unwrap();
        let mut replay = call;
        let newer = Master::new(6, ALL);
        let (x, y) = newer.passkey.public();
        replay.m.device = newer.address;
        replay.m.k11X = x;
        replay.m.k11Y = y;
        replay.deviceSig = newer.k10.sign(master_consent(
            chain.registry,
            op,
            newer.address,
            newer.roles,
        ));
        expect::<K11Verifier::ChallengeMismatch>(chain.send(first.address, replay));

        // The approver's assertion: wrong RP ID, UV missing, a bad signature, a sign count
        // that does not increase.
        let ch = chain.add_challenge(op, &newer);
        let mut call = chain.add_call(op, &newer, &[second]);
        call.assertions[0] = abi(second
            .passkey
            .assert_with(ch, |p| p.rp_id = "companion.localhost"));
        expect::<K11Verifier::RpIdHashMismatch>(chain.send(first.address, call.clone()));
        call.assertions[0] = abi(second.passkey.assert_with(ch, |p| p.flags = UP));
        expect::<K11Verifier::UserNotVerified>(chain.send(first.address, call.clone()));
        call.assertions[0] = abi(first.passkey.assert(ch));
        expect::<K11Verifier::BadSignature>(chain.send(first.address, call.clone()));
        let stored = chain.device(first.hash()).lastSignCount;
        assert!(stored > 0);
        call.approverDeviceKeyHashes[0] = first.hash();
        call.assertions[0] = abi(first.passkey.assert_with(ch, |p| p.sign_count = stored));
        let err = expect::<K11Verifier::SignCountNotIncreasing>(chain.send(first.address, call));
        assert_eq!((err.stored, err.presented), (stored, stored));

        // Input checks.
        let mut bad = chain.add_call(op, &newer, &[first]);
        bad.m.device = Address::ZERO;
        expect::<R::ZeroAddress>(chain.send(first.address, bad));
        let call = chain.add_call(op, &new, &[first]);
        expect::<R::DeviceAlreadyRegistered>(chain.send(first.address, call));
        let call = chain.add_call(
            op,
            &Master {
                roles: 0x10,
                ..Master::new(6, 0)
            },
            &[first],
        );
        expect::<R::InvalidRoles>(chain.send(first.address, call));
        let mut call = chain.add_call(op, &newer, &[first]);
        call.m.k11Y = U256::ZERO;
        expect::<R::InvalidPasskey>(chain.send(first.address, call));

        // Nothing above moved the nonce but the one success.
        assert_eq!(chain.nonce(op), U256::from(4));
        // A revoked master may neither submit nor approve.
        let call = chain.revoke_call(op, second.hash(), &[first]);
        chain.send(first.address, call).unwrap();
        let call = chain.add_call(op, &newer, &[first]);
        expect::<R::NotActiveMaster>(chain.send(second.address, call));
        let call = chain.add_call(op, &newer, &[second]);
        expect::<R::NotRecoveryApprover>(chain.send(first.address, call));
        let call = chain.add_call(op, &newer, &[first]);
        chain.send(first.address, call).expect("first still can");
    }
}

#[test]
fn agent_register_and_revoke() {
    for spec in SPECS {
        let mut chain = Chain::new(spec);
        let (op, masters) = chain.operator(2);
        let [first, second] = [&masters[0], &masters[1]];
        let agent_key = K10::new(0x61);
        let agent = agent_key.address;
        let actor = agent_actor(op, "bot-1", 7);
        let register = chain.agent_call(op, &agent_key, "bot-1", 7);
        let nonce = chain.nonce(op);

        // The contract's derivation is the client's, for every generation width.
        for g in [0u32, 7, 10, 4_294_967_295] {
            let on_chain = chain.view(R::agentActorOfCall {
                operatorOmni: op,
                label: "bot-1".into(),
                generation: g,
            });
            assert_eq!(
                on_chain,
                agent_actor(op, "bot-1", g),
                "{spec:?} generation {g}"
            );
        }

        expect::<R::NotActiveMaster>(chain.send(outsider(), register.clone()));
        let mut bad = register.clone();
        bad.agent = Address::ZERO;
        expect::<R::ZeroAddress>(chain.send(first.address, bad));

        let receipt = chain.send(first.address, register.clone()).unwrap();
        let ev = events::<R::AgentDeviceRegistered>(&receipt, chain.registry);
        assert_eq!(ev.len(), 1);
        assert_eq!(
            (
                ev[0].operatorOmni,
                ev[0].deviceKeyHash,
                ev[0].device,
                ev[0].actorOmni,
                ev[0].submitterDeviceKeyHash
            ),
            (op, device_hash(agent), agent, actor, first.hash())
        );
        let d = chain.device(device_hash(agent));
        assert_eq!(
            (d.tier, d.roles, d.operatorOmni, d.actorOmni),
            (TIER_AGENT, CAP_MINT, op, actor)
        );
        assert_eq!(
            (d.k11X, d.k11Y, d.rpIdHash),
            (U256::ZERO, U256::ZERO, B256::ZERO)
        );
        assert!(chain.active(device_hash(agent)));
        let record = chain.view(R::getActorCall { actorOmni: actor });
        assert_eq!((record.operatorOmni, record.status), (op, ACTOR_ACTIVE));
        assert!(chain.view(R::isActiveAgentActorCall {
            operatorOmni: op,
            actorOmni: actor
        }));
        assert_eq!(chain.nonce(op), nonce, "no K11, no nonce");
        // Once registered, the actor is taken and the key too.
        expect::<R::ActorAlreadyActive>(chain.send(second.address, register.clone()));
        let call = chain.agent_call(op, &agent_key, "bot-9", 1);
        let err = expect::<R::DeviceAlreadyRegistered>(chain.send(second.address, call));
        assert_eq!(err.deviceKeyHash, device_hash(agent));

        // The actor is taken, whatever key would take it.
        let twin = K10::new(0x62);
        let call = chain.agent_call(op, &twin, "bot-1", 7);
        let err = expect::<R::ActorAlreadyActive>(chain.send(second.address, call));
        assert_eq!(err.actorOmni, actor);

        // An agent is not a master: it cannot register agents, or masters as agents.
        let call = chain.agent_call(op, &twin, "bot-2", 1);
        expect::<R::NotActiveMaster>(chain.send(agent, call));
        let mut master_as_agent = chain.agent_call(op, &second.k10, "bot-2", 1);
        master_as_agent.agent = second.address;
        expect::<R::DeviceAlreadyRegistered>(chain.send(first.address, master_as_agent));

        // Revocation: not by outsiders, agents or another operator's master.
        let revoke = R::revokeAgentDeviceCall {
            deviceKeyHash: device_hash(agent),
        };
        expect::<R::NotActiveMaster>(chain.send(outsider(), revoke.clone()));
        expect::<R::NotActiveMaster>(chain.send(agent, revoke.clone()));
        let stranger = Master::new(9, ALL);
        chain.register_first(&stranger);
        let err =
            expect::<R::NotActiveAgentOfOperator>(chain.send(stranger.address, revoke.clone()));
        assert_eq!(err.deviceKeyHash, device_hash(agent));
        // revokeAgentDevice never revokes a master.
        expect::<R::NotActiveAgentOfOperator>(chain.send(
            first.address,
            R::revokeAgentDeviceCall {
                deviceKeyHash: second.hash(),
            },
        ));

        let receipt = chain.send(second.address, revoke.clone()).unwrap();
        let ev = events::<R::AgentDeviceRevoked>(&receipt, chain.registry);
        assert_eq!(ev.len(), 1);
        assert_eq!(
            (
                ev[0].operatorOmni,
                ev[0].deviceKeyHash,
                ev[0].submitterDeviceKeyHash
            ),
            (op, device_hash(agent), second.hash())
        );
        assert!(!chain.active(device_hash(agent)));
        assert!(chain.device(device_hash(agent)).revoked);
        let record = chain.view(R::getActorCall { actorOmni: actor });
        assert_eq!((record.operatorOmni, record.status), (op, ACTOR_REVOKED));
        assert!(!chain.view(R::isActiveAgentActorCall {
            operatorOmni: op,
            actorOmni: actor
        }));
        expect::<R::NotActiveAgentOfOperator>(chain.send(first.address, revoke));
        // A revoked agent cannot come back, under the same key or a new one: only a new
        // generation is a new actor, and the revoked key stays revoked.
        let err = expect::<R::ActorRevoked>(chain.send(first.address, register));
        assert_eq!(err.actorOmni, actor);
        let call = chain.agent_call(op, &agent_key, "bot-1", 8);
        expect::<R::DeviceAlreadyRegistered>(chain.send(first.address, call));
        let call = chain.agent_call(op, &twin, "bot-1", 7);
        let err = expect::<R::ActorRevoked>(chain.send(first.address, call));
        assert_eq!(err.actorOmni, actor);
        let call = chain.agent_call(op, &twin, "bot-1", 8);
        chain.send(first.address, call).expect("next generation");
        assert_eq!(chain.nonce(op), nonce);
    }
}

#[test]
fn agent_registration_refusals() {
    for spec in SPECS {
        let mut chain = Chain::new(spec);
        let (op, masters) = chain.operator(1);
        let first = &masters[0];
        let agent = K10::new(0x61);

        // Labels outside [a-z0-9-]{1,32}, refused before anything else is looked at.
        for label in ["", "Bot", "bot_1", "bot.1", "bot 1", "ünï", &"a".repeat(33)] {
            let call = chain.agent_call(op, &agent, "bot", 1);
            let call = R::registerAgentDeviceCall {
                label: label.into(),
                ..call
            };
            let err = expect::<R::InvalidAgentLabel>(chain.send(first.address, call));
            assert_eq!(err.label, label, "{spec:?}");
            let err = chain
                .evm
                .call(
                    outsider(),
                    chain.registry,
                    R::agentActorOfCall {
                        operatorOmni: op,
                        label: label.into(),
                        generation: 1,
                    }
                    .abi_encode()
                    .into(),
                )
                .expect_err("agentActorOf refuses the label");
            assert_eq!(err.selector(), Some(R::InvalidAgentLabel::SELECTOR));
        }
        let longest = "a".repeat(32);
        let call = chain.agent_call(op, &K10::new(0x70), &longest, 1);
        chain.send(first.address, call).expect("32 characters");

        // Masters without SCOPE_MGMT: no role at all, CAP_MINT and RECOVERY only.
        for (n, roles) in [(2u8, 0u8), (3, CAP_MINT), (4, CAP_MINT | RECOVERY)] {
            let m = Master::new(n, roles);
            let call = chain.add_call(op, &m, &[first]);
            chain.send(first.address, call).expect("add master");
            let call = chain.agent_call(op, &agent, "bot", 1);
            let err = expect::<R::MissingRole>(chain.send(m.address, call));
            assert_eq!((err.submitter, err.role), (m.address, SCOPE_MGMT));
        }
        let scoper = Master::new(5, SCOPE_MGMT);
        let call = chain.add_call(op, &scoper, &[first]);
        chain.send(first.address, call).expect("add master");

        // Consent: missing, truncated, by another key, over another operator, actor, agent,
        // chain or contract, high s, v not 27 or 28.
        let actor = agent_actor(op, "bot", 1);
        let good = chain.agent_call(op, &agent, "bot", 1);
        let other = K10::new(0x62);
        let stranger_op = operator_omni(Master::new(9, ALL).address);
        let spoiled: Vec<(&str, Bytes)> = vec![
            ("missing", Bytes::new()),
            ("truncated", good.agentSig.slice(..64)),
            (
                "too long",
                [good.agentSig.to_vec(), vec![0]].concat().into(),
            ),
            (
                "another key",
                other.sign(agent_consent(chain.registry, op, actor, agent.address)),
            ),
            (
                "another operator",
                agent.sign(agent_consent(
                    chain.registry,
                    stranger_op,
                    actor,
                    agent.address,
                )),
            ),
            (
                "another actor",
                agent.sign(agent_consent(
                    chain.registry,
                    op,
                    agent_actor(op, "bot", 2),
                    agent.address,
                )),
            ),
            (
                "another agent",
                agent.sign(agent_consent(chain.registry, op, actor, other.address)),
            ),
            (
                "another contract",
                agent.sign(agent_consent(outsider(), op, actor, agent.address)),
            ),
            ("another chain", {
                let digest = keccak256(
                    (
                        tag("agentkeys.agentConsent.v1"),
                        op,
                        actor,
                        agent.address,
                        U256::from(CHAIN_ID + 1),
                        chain.registry,
                    )
                        .abi_encode_params(),
                );
                agent.sign(digest)
            }),
            ("high s", high_s(&good.agentSig)),
            ("v 0 or 1", {
                let mut v = good.agentSig.to_vec();
                v[64] -= 27;
                v.into()
            }),
        ];
        for (why, sig) in spoiled {
            let call = R::registerAgentDeviceCall {
                agentSig: sig,
                ..good.clone()
            };
            let err = expect::<R::InvalidDeviceConsent>(chain.send(scoper.address, call));
            assert_eq!(err.device, agent.address, "{spec:?}: {why}");
        }
        // The digest the client signs is the contract's.
        assert_eq!(
            chain.view(R::agentConsentDigestCall {
                operatorOmni: op,
                actorOmni: actor,
                agent: agent.address,
            }),
            agent_consent(chain.registry, op, actor, agent.address)
        );
        assert!(!chain.active(device_hash(agent.address)));

        // A stranger operator cannot take a victim's agent key: the victim's agent consented
        // to the victim's operator only, and a consent for the stranger's derived actor is
        // one the stranger cannot forge.
        chain
            .send(scoper.address, good.clone())
            .expect("victim's agent");
        let victim_agent = K10::new(0x63);
        let stranger = Master::new(9, ALL);
        chain.register_first(&stranger);
        let call = chain.agent_call(op, &victim_agent, "bot", 2);
        let err = expect::<R::InvalidDeviceConsent>(chain.send(stranger.address, call));
        assert_eq!(err.device, victim_agent.address);
        // With its own key the stranger's agent lands in the stranger's operator, under an
        // actor derived from it: never the victim's operator or agents.
        let own = K10::new(0x64);
        let call = chain.agent_call(stranger_op, &own, "bot", 1);
        chain
            .send(stranger.address, call)
            .expect("stranger's own agent");
        let d = chain.device(device_hash(own.address));
        assert_eq!(
            (d.operatorOmni, d.actorOmni),
            (stranger_op, agent_actor(stranger_op, "bot", 1))
        );
        assert_ne!(d.actorOmni, actor);
        assert_ne!(d.actorOmni, op);
    }
}

#[test]
fn master_consent_refusals() {
    for spec in SPECS {
        let mut chain = Chain::new(spec);
        let (op, masters) = chain.operator(1);
        let first = &masters[0];
        let new = Master::new(5, CAP_MINT | SCOPE_MGMT);
        let good = chain.add_call(op, &new, &[first]);
        assert_eq!(
            chain.view(R::masterConsentDigestCall {
                operatorOmni: op,
                newDevice: new.address,
                roles: new.roles,
            }),
            master_consent(chain.registry, op, new.address, new.roles)
        );

        // A stranger registers the victim's device address under its own operator: the
        // device never signed for that operator.
        let stranger = Master::new(9, ALL);
        chain.register_first(&stranger);
        let stranger_op = operator_omni(stranger.address);
        let mut squat = chain.add_call(stranger_op, &new, &[&stranger]);
        squat.deviceSig = new
            .k10
            .sign(master_consent(chain.registry, op, new.address, new.roles));
        let err = expect::<R::InvalidDeviceConsent>(chain.send(stranger.address, squat));
        assert_eq!(err.device, new.address);

        let other = K10::new(0x62);
        let spoiled: Vec<(&str, Bytes)> = vec![
            ("missing", Bytes::new()),
            (
                "another key",
                other.sign(master_consent(chain.registry, op, new.address, new.roles)),
            ),
            (
                "other roles",
                new.k10
                    .sign(master_consent(chain.registry, op, new.address, ALL)),
            ),
            (
                "another contract",
                new.k10
                    .sign(master_consent(outsider(), op, new.address, new.roles)),
            ),
            ("another chain", {
                let digest = keccak256(
                    (
                        tag("agentkeys.masterConsent.v1"),
                        op,
                        new.address,
                        U256::from(new.roles),
                        U256::from(CHAIN_ID + 1),
                        chain.registry,
                    )
                        .abi_encode_params(),
                );
                new.k10.sign(digest)
            }),
            ("high s", high_s(&good.deviceSig)),
        ];
        for (why, sig) in spoiled {
            let mut call = chain.add_call(op, &new, &[first]);
            call.deviceSig = sig;
            let err = expect::<R::InvalidDeviceConsent>(chain.send(first.address, call));
            assert_eq!(err.device, new.address, "{spec:?}: {why}");
        }
        assert!(!chain.active(new.hash()));
        let call = chain.add_call(op, &new, &[first]);
        chain.send(first.address, call).expect("consented");
        assert_eq!(chain.device(new.hash()).operatorOmni, op);
    }
}

#[test]
fn recovery_threshold() {
    for spec in SPECS {
        let mut chain = Chain::new(spec);
        let (op, masters) = chain.operator(2);
        let [first, second] = [&masters[0], &masters[1]];

        let call = chain.threshold_call(op, 0, &[first]);
        let err = expect::<R::InvalidThreshold>(chain.send(first.address, call));
        assert_eq!(
            (err.threshold, err.activeRecoveryMasters),
            (U256::ZERO, U256::from(2))
        );
        let call = chain.threshold_call(op, 3, &[first]);
        let err = expect::<R::InvalidThreshold>(chain.send(first.address, call));
        assert_eq!(
            (err.threshold, err.activeRecoveryMasters),
            (U256::from(3), U256::from(2))
        );
        let call = chain.threshold_call(op, 2, &[first]);
        expect::<R::NotActiveMaster>(chain.send(outsider(), call));

        let plain = Master::new(3, CAP_MINT | SCOPE_MGMT);
        let call = chain.add_call(op, &plain, &[first]);
        chain.send(first.address, call).unwrap();
        let call = chain.threshold_call(op, 2, &[&plain]);
        expect::<R::NotRecoveryApprover>(chain.send(first.address, call));
        // No approval, mismatched arrays, the same approver twice.
        let call = chain.threshold_call(op, 2, &[]);
        let err = expect::<R::NotEnoughApprovals>(chain.send(first.address, call));
        assert_eq!((err.given, err.required), (U256::ZERO, U256::from(1)));
        let mut call = chain.threshold_call(op, 2, &[first, second]);
        call.assertions.pop();
        let err = expect::<R::LengthMismatch>(chain.send(first.address, call));
        assert_eq!(
            (err.approvers, err.assertions),
            (U256::from(2), U256::from(1))
        );
        let call = chain.threshold_call(op, 2, &[first, first]);
        assert_eq!(
            expect::<R::DuplicateApprover>(chain.send(first.address, call)).deviceKeyHash,
            first.hash()
        );
        // UV missing.
        let new = U256::from(2);
        let ch = chain.challenge(
            tag("agentkeys.setRecoveryThreshold.v1"),
            op,
            keccak256(new.abi_encode()),
        );
        let mut call = chain.threshold_call(op, 2, &[first]);
        call.assertions[0] = abi(first.passkey.assert_with(ch, |p| p.flags = UP));
        expect::<K11Verifier::UserNotVerified>(chain.send(first.address, call));
        assert_eq!(chain.nonce(op), U256::from(3));

        // At threshold 1 one RECOVERY master suffices, and a non-RECOVERY master may submit.
        let call = chain.threshold_call(op, 2, &[second]);
        let receipt = chain.send(plain.address, call.clone()).unwrap();
        let ev = events::<R::RecoveryThresholdChanged>(&receipt, chain.registry);
        assert_eq!(ev.len(), 1);
        assert_eq!(
            (
                ev[0].operatorOmni,
                ev[0].oldThreshold,
                ev[0].newThreshold,
                ev[0].approverDeviceKeyHashes.clone()
            ),
            (op, U256::from(1), U256::from(2), vec![second.hash()])
        );
        assert_eq!(
            chain.view(R::recoveryThresholdCall { operatorOmni: op }),
            U256::from(2)
        );
        assert_eq!(chain.nonce(op), U256::from(4));
        // Replayed: below the new quorum, and with a second approval the old assertion's
        // challenge no longer matches (the nonce moved on).
        expect::<R::NotEnoughApprovals>(chain.send(first.address, call.clone()));
        let mut replay = call.clone();
        let fresh = chain.threshold_call(op, 2, &[first]);
        replay.approverDeviceKeyHashes.push(first.hash());
        replay.assertions.push(fresh.assertions[0].clone());
        expect::<K11Verifier::ChallengeMismatch>(chain.send(first.address, replay));

        // At threshold 2, one stolen passkey can no longer lower the threshold.
        let call = chain.threshold_call(op, 1, &[first]);
        let err = expect::<R::NotEnoughApprovals>(chain.send(first.address, call));
        assert_eq!((err.given, err.required), (U256::from(1), U256::from(2)));
        let call = chain.threshold_call(op, 1, &[first, first]);
        expect::<R::DuplicateApprover>(chain.send(first.address, call));
        let call = chain.threshold_call(op, 1, &[first, &plain]);
        assert_eq!(
            expect::<R::NotRecoveryApprover>(chain.send(first.address, call)).deviceKeyHash,
            plain.hash()
        );
        // Nor add a master of its own.
        let spare = Master::new(4, ALL);
        let call = chain.add_call(op, &spare, &[first]);
        let err = expect::<R::NotEnoughApprovals>(chain.send(first.address, call));
        assert_eq!((err.given, err.required), (U256::from(1), U256::from(2)));
        assert!(!chain.active(spare.hash()));
        assert_eq!(chain.nonce(op), U256::from(4));

        // Two distinct RECOVERY masters may.
        let call = chain.threshold_call(op, 1, &[second, first]);
        let receipt = chain.send(first.address, call).unwrap();
        let ev = events::<R::RecoveryThresholdChanged>(&receipt, chain.registry);
        assert_eq!(
            ev[0].approverDeviceKeyHashes,
            vec![second.hash(), first.hash()]
        );
        assert_eq!(
            chain.view(R::recoveryThresholdCall { operatorOmni: op }),
            U256::from(1)
        );
        assert_eq!(chain.nonce(op), U256::from(5));
    }
}

/// The recovery story of issue 4 on chain: first master → a companion master (threshold 1: one
/// approval and the companion's own passkey) → threshold 2 → a spare master (two approvals) →
/// the spare revoked by 2-of-2.
#[test]
fn recovery_story() {
    for spec in SPECS {
        let mut chain = Chain::new(spec);
        let primary = Master::new(1, ALL);
        chain.register_first(&primary);
        let op = operator_omni(primary.address);
        let companion = Master {
            passkey: Passkey::new(0x52, "companion.localhost"),
            ..Master::new(0x0c, ALL)
        };

        // device add (companion): the primary approves, the companion proves its passkey.
        let call = chain.add_call(op, &companion, &[&primary]);
        chain.send(primary.address, call).expect("device add");
        let d = chain.device(companion.hash());
        assert_eq!(d.rpIdHash, companion.passkey.rp_id_hash());
        assert_eq!(d.lastSignCount, 1);

        // threshold 2, approved at the current threshold 1; the companion submits.
        let call = chain.threshold_call(op, 2, &[&primary]);
        chain.send(companion.address, call).expect("threshold 2");
        assert_eq!(
            chain.view(R::recoveryThresholdCall { operatorOmni: op }),
            U256::from(2)
        );

        // A spare master: one approval no longer suffices, two do.
        let spare = Master::new(3, ALL);
        let call = chain.add_call(op, &spare, &[&primary]);
        let err = expect::<R::NotEnoughApprovals>(chain.send(primary.address, call));
        assert_eq!((err.given, err.required), (U256::from(1), U256::from(2)));
        let call = chain.add_call(op, &spare, &[&primary, &companion]);
        let receipt = chain.send(primary.address, call).expect("spare added");
        let ev = events::<R::MasterDeviceRegistered>(&receipt, chain.registry);
        assert_eq!(
            ev[0].approverDeviceKeyHashes,
            vec![primary.hash(), companion.hash()]
        );
        assert!(chain.active(spare.hash()));
        assert_eq!(
            chain.view(R::activeRecoveryMastersCall { operatorOmni: op }),
            U256::from(3)
        );

        // The spare revoked by 2-of-2 (primary and companion); one alone is refused.
        let call = chain.revoke_call(op, spare.hash(), &[&primary]);
        expect::<R::NotEnoughApprovals>(chain.send(primary.address, call));
        let call = chain.revoke_call(op, spare.hash(), &[&companion, &primary]);
        chain.send(primary.address, call).expect("spare revoked");
        assert!(!chain.active(spare.hash()));
        assert!(chain.device(spare.hash()).revoked);
        assert_eq!(
            chain.view(R::activeRecoveryMastersCall { operatorOmni: op }),
            U256::from(2)
        );
        assert_eq!(chain.nonce(op), U256::from(5));
        // The revoked spare may no longer act for the operator.
        let call = chain.agent_call(op, &K10::new(0x61), "bot", 1);
        let err = expect::<R::NotActiveMaster>(chain.send(spare.address, call));
        assert_eq!(err.submitter, spare.address);
    }
}

#[test]
fn m_of_n_master_revocation() {
    for spec in SPECS {
        let mut chain = Chain::new(spec);
        let (op, masters) = chain.operator(3);
        let [a, b, c] = [&masters[0], &masters[1], &masters[2]];
        let call = chain.threshold_call(op, 2, &[a]);
        chain.send(a.address, call).unwrap();

        // Below the threshold, mismatched lengths, the same approver twice.
        let call = chain.revoke_call(op, c.hash(), &[a]);
        let err = expect::<R::NotEnoughApprovals>(chain.send(a.address, call));
        assert_eq!((err.given, err.required), (U256::from(1), U256::from(2)));
        let mut call = chain.revoke_call(op, c.hash(), &[a, b]);
        call.assertions.pop();
        let err = expect::<R::LengthMismatch>(chain.send(a.address, call));
        assert_eq!(
            (err.approvers, err.assertions),
            (U256::from(2), U256::from(1))
        );
        let call = chain.revoke_call(op, c.hash(), &[a, a]);
        assert_eq!(
            expect::<R::DuplicateApprover>(chain.send(a.address, call)).deviceKeyHash,
            a.hash()
        );
        // An assertion signed over another target does not count.
        let mut call = chain.revoke_call(op, c.hash(), &[a, b]);
        call.targetDeviceKeyHash = b.hash();
        expect::<K11Verifier::ChallengeMismatch>(chain.send(a.address, call));
        // Targets that are not active masters of this operator; outsiders submitting.
        let call = chain.revoke_call(op, device_hash(outsider()), &[a, b]);
        expect::<R::NotActiveMasterOfOperator>(chain.send(a.address, call));
        let call = chain.revoke_call(op, c.hash(), &[a, b]);
        expect::<R::NotActiveMaster>(chain.send(outsider(), call));

        // 2-of-3: a and b revoke c; c submits its own revocation.
        let nonce = chain.nonce(op);
        let call = chain.revoke_call(op, c.hash(), &[b, a]);
        let receipt = chain
            .send(c.address, call.clone())
            .expect("revokeMasterDevice");
        let ev = events::<R::MasterDeviceRevoked>(&receipt, chain.registry);
        assert_eq!(ev.len(), 1);
        assert_eq!((ev[0].operatorOmni, ev[0].deviceKeyHash), (op, c.hash()));
        assert_eq!(ev[0].approverDeviceKeyHashes, vec![b.hash(), a.hash()]);
        assert!(!chain.active(c.hash()));
        assert!(chain.device(c.hash()).revoked);
        assert_eq!(chain.nonce(op), nonce + U256::from(1));
        assert_eq!(
            chain.view(R::activeRecoveryMastersCall { operatorOmni: op }),
            U256::from(2)
        );
        // Replayed, and again against a revoked target.
        expect::<R::NotActiveMaster>(chain.send(c.address, call.clone()));
        expect::<R::NotActiveMasterOfOperator>(chain.send(a.address, call));
        let call = chain.threshold_call(op, 1, &[a, c]);
        expect::<R::NotRecoveryApprover>(chain.send(a.address, call));

        // Two RECOVERY masters at threshold 2: revoking either would strand the operator.
        let call = chain.revoke_call(op, b.hash(), &[a, b]);
        let err = expect::<R::WouldStrandOperator>(chain.send(a.address, call));
        assert_eq!(
            (err.remainingRecoveryMasters, err.required),
            (U256::from(1), U256::from(2))
        );
        // At threshold 1, one may go, but never the last.
        let call = chain.threshold_call(op, 1, &[a, b]);
        chain.send(a.address, call).unwrap();
        let call = chain.revoke_call(op, b.hash(), &[a]);
        chain.send(a.address, call).unwrap();
        let call = chain.revoke_call(op, a.hash(), &[a]);
        let err = expect::<R::WouldStrandOperator>(chain.send(a.address, call));
        assert_eq!(
            (err.remainingRecoveryMasters, err.required),
            (U256::ZERO, U256::from(1))
        );
        // A non-RECOVERY master may be revoked by the last RECOVERY master.
        let plain = Master::new(4, CAP_MINT);
        let call = chain.add_call(op, &plain, &[a]);
        chain.send(a.address, call).unwrap();
        let call = chain.revoke_call(op, plain.hash(), &[a]);
        chain.send(a.address, call).unwrap();
        assert!(!chain.active(plain.hash()));
        assert_eq!(
            chain.view(R::activeRecoveryMastersCall { operatorOmni: op }),
            U256::from(1)
        );
        assert_eq!(
            chain.view(R::getOperatorDevicesCall { operatorOmni: op }),
            vec![a.hash(), b.hash(), c.hash(), plain.hash()]
        );
    }
}

/// Execution gas: the transaction's gas less the intrinsic 21,000 and calldata, which a calling
/// contract would not pay again. `None` when the EIP-7623 calldata floor was what was charged.
fn execution_gas(data: &Bytes, used: u64) -> Option<u64> {
    let zeros = data.iter().filter(|b| **b == 0).count() as u64;
    let non_zeros = data.len() as u64 - zeros;
    let floor = 21_000 + 10 * (zeros + 4 * non_zeros);
    (used > floor).then(|| used - 21_000 - 16 * non_zeros - 4 * zeros)
}

#[test]
fn gas() {
    let mut table: Vec<(String, SpecId, u64, Option<u64>)> = Vec::new();
    for spec in SPECS {
        let mut chain = Chain::new(spec);
        let mut row = |chain: &mut Chain, name: &str, from: Address, data: Bytes| {
            let receipt = chain
                .evm
                .transact(from, chain.registry, data.clone())
                .unwrap_or_else(|e| panic!("{name}: {e:?}"));
            table.push((
                name.into(),
                spec,
                receipt.gas_used,
                execution_gas(&data, receipt.gas_used),
            ));
        };
        let [a, b, c] = [
            Master::new(1, ALL),
            Master::new(2, ALL),
            Master::new(3, ALL),
        ];
        let op = operator_omni(a.address);
        let call = chain.first_call(&a);
        row(
            &mut chain,
            "registerFirstMasterDevice",
            a.address,
            call.abi_encode().into(),
        );
        let lone = Master::new(5, ALL);
        row(
            &mut chain,
            "registerFirstMasterDeviceWithoutPasskey",
            lone.address,
            R::registerFirstMasterDeviceWithoutPasskeyCall {}
                .abi_encode()
                .into(),
        );
        let call = chain.attach_call(operator_omni(lone.address), &lone);
        row(
            &mut chain,
            "attachPasskey",
            lone.address,
            call.abi_encode().into(),
        );
        let call = chain.add_call(op, &b, &[&a]);
        row(
            &mut chain,
            "registerAdditionalMasterDevice (1 approver)",
            a.address,
            call.abi_encode().into(),
        );
        let call = chain.add_call(op, &c, &[&a]);
        chain.send(a.address, call).unwrap();
        let call = chain.threshold_call(op, 2, &[&a]);
        row(
            &mut chain,
            "setRecoveryThreshold (1 approver)",
            a.address,
            call.abi_encode().into(),
        );
        let d = Master::new(4, ALL);
        let call = chain.add_call(op, &d, &[&a, &b]);
        row(
            &mut chain,
            "registerAdditionalMasterDevice (2 approvers)",
            a.address,
            call.abi_encode().into(),
        );
        let call = chain.threshold_call(op, 2, &[&a, &b]);
        row(
            &mut chain,
            "setRecoveryThreshold (2 approvers)",
            a.address,
            call.abi_encode().into(),
        );
        let agent_key = K10::new(0x61);
        let agent = agent_key.address;
        let call = chain.agent_call(op, &agent_key, "bot", 1);
        row(
            &mut chain,
            "registerAgentDevice",
            a.address,
            call.abi_encode().into(),
        );
        let call = R::revokeAgentDeviceCall {
            deviceKeyHash: device_hash(agent),
        };
        row(
            &mut chain,
            "revokeAgentDevice",
            a.address,
            call.abi_encode().into(),
        );
        let call = chain.revoke_call(op, c.hash(), &[&a, &b]);
        row(
            &mut chain,
            "revokeMasterDevice (2 approvers)",
            a.address,
            call.abi_encode().into(),
        );
        let call = R::isActiveCall {
            deviceKeyHash: a.hash(),
        };
        row(&mut chain, "isActive", a.address, call.abi_encode().into());
        let call = R::getDeviceCall {
            deviceKeyHash: a.hash(),
        };
        row(&mut chain, "getDevice", a.address, call.abi_encode().into());
        let call = R::challengeForCall {
            opTag: tag("agentkeys.revokeMaster.v1"),
            operatorOmni: op,
            paramsHash: B256::ZERO,
        };
        row(
            &mut chain,
            "challengeFor",
            a.address,
            call.abi_encode().into(),
        );
        let call = R::operatorOmniOfCall {
            firstMaster: a.address,
        };
        row(
            &mut chain,
            "operatorOmniOf",
            a.address,
            call.abi_encode().into(),
        );
    }
    println!("\n| SidecarRegistry function | fork | gas (tx) | execution |\n|---|---|---:|---:|");
    for (name, spec, used, exec) in &table {
        let exec = exec.map_or("floor".to_string(), |e| e.to_string());
        println!("| {name} | {spec:?} | {used} | {exec} |");
    }
    // Loose ceilings so a regression that multiplies cost fails, not just the table.
    for (name, spec, used, _) in &table {
        // P-256 verifications in the call: one per approver, plus the new passkey's own.
        let verifications = match name.as_str() {
            "registerAdditionalMasterDevice (2 approvers)" => 3,
            n if n.contains("2 approvers") || n.starts_with("registerAdditionalMaster") => 2,
            _ => 1,
        };
        let ceiling = 200_000 + 400_000 * verifications;
        assert!(*used < ceiling, "{name} on {spec:?} used {used} gas");
    }
}

#[test]
fn a_passkey_belongs_to_one_master_only() {
    for spec in SPECS {
        let mut chain = Chain::new(spec);
        let (op, masters) = chain.operator(2);
        let [first, second] = [&masters[0], &masters[1]];
        for m in [first, second] {
            let (x, y) = m.passkey.public();
            let owner: B256 = chain.view(R::passkeyDeviceCall { k11X: x, k11Y: y });
            assert_eq!(owner, m.hash());
        }
        let (x, y) = Passkey::new(0x77, "localhost").public();
        let none: B256 = chain.view(R::passkeyDeviceCall { k11X: x, k11Y: y });
        assert_eq!(none, B256::ZERO);

        // A second device presenting the first master's passkey. Every assertion in the call is
        // valid (the new passkey's included), so only the uniqueness check can refuse it.
        let twin = Master {
            passkey: Passkey::new(0x41, "localhost"),
            ..Master::new(0x0b, ALL)
        };
        assert_eq!(twin.passkey.public(), first.passkey.public());
        let nonce = chain.nonce(op);
        let call = chain.add_call(op, &twin, &[first]);
        let err = expect::<R::PasskeyAlreadyRegistered>(chain.send(first.address, call));
        assert_eq!(err.existingDeviceKeyHash, first.hash());
        assert_eq!(chain.device(twin.hash()).tier, 0);
        assert_eq!(chain.nonce(op), nonce);

        // Nor as the first master of a new operator.
        let call = chain.first_call(&twin);
        let err = expect::<R::PasskeyAlreadyRegistered>(chain.send(twin.address, call));
        assert_eq!(err.existingDeviceKeyHash, first.hash());

        // A revoked master's passkey stays taken.
        let call = chain.revoke_call(op, second.hash(), &[first]);
        chain.send(first.address, call).expect("revokeMasterDevice");
        let twin = Master {
            passkey: Passkey::new(0x42, "localhost"),
            ..Master::new(0x0d, ALL)
        };
        let call = chain.add_call(op, &twin, &[first]);
        let err = expect::<R::PasskeyAlreadyRegistered>(chain.send(first.address, call));
        assert_eq!(err.existingDeviceKeyHash, second.hash());

        // A fresh passkey on the same device goes through.
        let fresh = Master {
            address: twin.address,
            k10: twin.k10.clone(),
            passkey: Passkey::new(0x55, "localhost"),
            roles: ALL,
        };
        let call = chain.add_call(op, &fresh, &[first]);
        chain
            .send(first.address, call)
            .expect("registerAdditionalMasterDevice");
        let (x, y) = fresh.passkey.public();
        let owner: B256 = chain.view(R::passkeyDeviceCall { k11X: x, k11Y: y });
        assert_eq!(owner, fresh.hash());
    }
}
