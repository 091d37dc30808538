//! AgentKeysScope on revm, against a real SidecarRegistry, with real WebAuthn assertions from
//! P-256 keys made here. Every refusal is checked for its exact custom error (the K11 ones bubble
//! up from K11Verifier), with the RIP-7212 precompile (OSAKA) and without it (PRAGUE).
//! Gas: `cargo test -p agentkeys-contracts --test agent_scope gas -- --nocapture`.

mod common;

use agentkeys_contracts::bindings::{AgentKeysScope, K11Verifier, SidecarRegistry};
use agentkeys_contracts::{Evm, Receipt, Revert, SpecId};
use alloy::primitives::{keccak256, Address, B256, U256};
use alloy::sol_types::{SolCall, SolConstructor, SolValue};
use common::registry::*;
use common::webauthn::{Signed, UP};
use common::{init_code, CHAIN_ID};

use AgentKeysScope as S;
use SidecarRegistry as R;

/// The on-chain name of a service: keccak256 of its lowercase name.
fn service(name: &str) -> B256 {
    keccak256(name.to_lowercase().as_bytes())
}

fn services(names: &[&str]) -> Vec<B256> {
    names.iter().map(|n| service(n)).collect()
}

fn set_params(services: &[B256]) -> B256 {
    keccak256((services.to_vec(),).abi_encode_params())
}

fn registry_abi(s: Signed) -> R::WebAuthnAssertion {
    s.into()
}

fn abi(s: Signed) -> S::WebAuthnAssertion {
    s.into()
}

struct Chain {
    evm: Evm,
    registry: Address,
    scope: Address,
    spec: SpecId,
}

impl Chain {
    fn new(spec: SpecId) -> Chain {
        let mut evm = new_chain(spec);
        let registry = deploy_verifiers_and_registry(&mut evm);
        let args = S::constructorCall {
            registry_: registry,
        }
        .abi_encode();
        let scope = evm
            .deploy(deployer(), init_code(&S::BYTECODE, args))
            .expect("deploy AgentKeysScope");
        Chain {
            evm,
            registry,
            scope,
            spec,
        }
    }

    fn reg<C: SolCall>(&mut self, from: Address, call: C) -> Receipt {
        self.evm
            .transact(from, self.registry, call.abi_encode().into())
            .unwrap_or_else(|e| panic!("{}: {e:?}", C::SIGNATURE))
    }

    fn reg_view<C: SolCall>(&mut self, call: C) -> C::Return {
        let out = self
            .evm
            .call(outsider(), self.registry, call.abi_encode().into())
            .expect("view");
        C::abi_decode_returns(&out).expect("decode")
    }

    fn send<C: SolCall>(&mut self, from: Address, call: C) -> Result<Receipt, Revert> {
        self.evm
            .transact(from, self.scope, call.abi_encode().into())
    }

    fn view<C: SolCall>(&mut self, call: C) -> C::Return {
        let out = self
            .evm
            .call(outsider(), self.scope, call.abi_encode().into())
            .expect("view");
        C::abi_decode_returns(&out).expect("decode")
    }

    fn register_first(&mut self, m: &Master) -> B256 {
        let op = operator_omni(m.address);
        let nonce = self.reg_view(R::operatorNonceCall { operatorOmni: op });
        let ch = keccak256(
            (
                tag("agentkeys.registerFirstMaster.v1"),
                op,
                m.registration_params(),
                U256::from(CHAIN_ID),
                self.registry,
                nonce,
            )
                .abi_encode_params(),
        );
        let (x, y) = m.passkey.public();
        let call = R::registerFirstMasterDeviceCall {
            roles: m.roles,
            k11X: x,
            k11Y: y,
            rpIdHash: m.passkey.rp_id_hash(),
            assertion: registry_abi(m.passkey.assert(ch)),
        };
        self.reg(m.address, call);
        op
    }

    fn add_master(&mut self, op: B256, approver: &Master, new: &Master) {
        let ch = self.reg_view(R::challengeForCall {
            opTag: tag("agentkeys.registerAdditionalMaster.v1"),
            operatorOmni: op,
            paramsHash: new.registration_params(),
        });
        let call = R::registerAdditionalMasterDeviceCall {
            m: new.as_new_master(),
            deviceSig: new.consent(self.registry, op),
            approverDeviceKeyHashes: vec![approver.hash()],
            assertions: vec![registry_abi(approver.passkey.assert(ch))],
            newDeviceAssertion: registry_abi(new.passkey.assert(ch)),
        };
        self.reg(approver.address, call);
    }

    /// Agent `label` (generation 1) of operator `op`, registered by `master` with the agent
    /// key's consent; its actor.
    fn add_agent(&mut self, op: B256, master: &Master, agent: &K10, label: &str) -> B256 {
        let actor = agent_actor(op, label, 1);
        let call = R::registerAgentDeviceCall {
            agent: agent.address,
            label: label.into(),
            generation: 1,
            agentSig: agent.sign(agent_consent(self.registry, op, actor, agent.address)),
        };
        self.reg(master.address, call);
        actor
    }

    fn revoke_master(&mut self, op: B256, approver: &Master, target: &Master) {
        let ch = self.reg_view(R::challengeForCall {
            opTag: tag("agentkeys.revokeMaster.v1"),
            operatorOmni: op,
            paramsHash: keccak256(target.hash().abi_encode()),
        });
        let call = R::revokeMasterDeviceCall {
            targetDeviceKeyHash: target.hash(),
            approverDeviceKeyHashes: vec![approver.hash()],
            assertions: vec![registry_abi(approver.passkey.assert(ch))],
        };
        self.reg(approver.address, call);
    }

    fn nonce(&mut self, op: B256, actor: B256) -> U256 {
        self.view(S::scopeNonceCall { _0: op, _1: actor })
    }

    /// The challenge computed here, checked against the contract's `scopeChallenge`.
    fn challenge(&mut self, op_tag: B256, op: B256, actor: B256, params: B256) -> B256 {
        let nonce = self.nonce(op, actor);
        let local = keccak256(
            (
                op_tag,
                op,
                actor,
                params,
                U256::from(CHAIN_ID),
                self.scope,
                nonce,
            )
                .abi_encode_params(),
        );
        let remote = self.view(S::scopeChallengeCall {
            opTag: op_tag,
            operatorOmni: op,
            actorOmni: actor,
            paramsHash: params,
        });
        assert_eq!(local, remote, "{:?}: scopeChallenge", self.spec);
        local
    }

    fn set_call(
        &mut self,
        op: B256,
        actor: B256,
        list: &[B256],
        approver: &Master,
    ) -> S::setScopeCall {
        let ch = self.challenge(tag("agentkeys.setScope.v1"), op, actor, set_params(list));
        S::setScopeCall {
            operatorOmni: op,
            actorOmni: actor,
            services: list.to_vec(),
            approverDeviceKeyHash: approver.hash(),
            assertion: abi(approver.passkey.assert(ch)),
        }
    }

    fn revoke_call(&mut self, op: B256, actor: B256, approver: &Master) -> S::revokeScopeCall {
        let ch = self.challenge(tag("agentkeys.revokeScope.v1"), op, actor, B256::ZERO);
        S::revokeScopeCall {
            operatorOmni: op,
            actorOmni: actor,
            approverDeviceKeyHash: approver.hash(),
            assertion: abi(approver.passkey.assert(ch)),
        }
    }

    fn in_scope(&mut self, op: B256, actor: B256, name: &str) -> bool {
        self.view(S::isServiceInScopeCall {
            operatorOmni: op,
            actorOmni: actor,
            service: service(name),
        })
    }

    fn scope(&mut self, op: B256, actor: B256) -> Vec<B256> {
        self.view(S::getScopeCall {
            operatorOmni: op,
            actorOmni: actor,
        })
    }
}

/// An operator: `first` (every role), `plain` (a master without SCOPE_MGMT), `spare` (a
/// master with every role, revoked), and one agent whose actor omni is returned.
struct Fixture {
    chain: Chain,
    op: B256,
    actor: B256,
    agent: Address,
    first: Master,
    plain: Master,
    spare: Master,
    /// First master of another operator, with every role.
    stranger: Master,
}

fn fixture(spec: SpecId) -> Fixture {
    let mut chain = Chain::new(spec);
    let first = Master::new(1, ALL);
    let plain = Master::new(2, CAP_MINT | RECOVERY);
    let spare = Master::new(3, ALL);
    let stranger = Master::new(4, ALL);
    let op = chain.register_first(&first);
    chain.add_master(op, &first, &plain);
    chain.add_master(op, &first, &spare);
    chain.revoke_master(op, &first, &spare);
    chain.register_first(&stranger);
    let agent = K10::new(0x61).address;
    let actor = chain.add_agent(op, &first, &K10::new(0x61), "bot");
    let d = chain.reg_view(R::getDeviceCall {
        deviceKeyHash: first.hash(),
    });
    assert_ne!(d.roles & SCOPE_MGMT, 0, "the first master manages scopes");
    Fixture {
        chain,
        op,
        actor,
        agent,
        first,
        plain,
        spare,
        stranger,
    }
}

#[test]
fn constants_and_constructor() {
    let mut chain = Chain::new(SpecId::OSAKA);
    let set: B256 = chain.view(S::OP_SET_SCOPECall {});
    assert_eq!(set, tag("agentkeys.setScope.v1"));
    let revoke: B256 = chain.view(S::OP_REVOKE_SCOPECall {});
    assert_eq!(revoke, tag("agentkeys.revokeScope.v1"));
    let mgmt: u8 = chain.view(S::SCOPE_MGMTCall {});
    let registry_mgmt: u8 = chain.reg_view(R::SCOPE_MGMTCall {});
    assert_eq!((mgmt, registry_mgmt), (SCOPE_MGMT, SCOPE_MGMT));
    let registry: Address = chain.view(S::registryCall {});
    assert_eq!(registry, chain.registry);
    let k11: Address = chain.view(S::k11Call {});
    let registry_k11: Address = chain.reg_view(R::k11Call {});
    assert_eq!(k11, registry_k11);

    // An address without code is refused.
    let args = S::constructorCall {
        registry_: outsider(),
    }
    .abi_encode();
    let err = chain
        .evm
        .deploy(deployer(), init_code(&S::BYTECODE, args))
        .expect_err("no code at the registry address");
    assert!(matches!(err, Revert::Reverted { .. }), "{err:?}");
}

#[test]
fn set_replace_revoke() {
    for spec in SPECS {
        let Fixture {
            mut chain,
            op,
            actor,
            first,
            plain,
            ..
        } = fixture(spec);
        assert_eq!(chain.nonce(op, actor), U256::ZERO);
        assert!(!chain.in_scope(op, actor, "openrouter"));
        assert!(chain.scope(op, actor).is_empty());

        // Set, submitted by a master without SCOPE_MGMT and approved by one with it.
        let list = services(&["openrouter", "anthropic"]);
        let call = chain.set_call(op, actor, &list, &first);
        let receipt = chain.send(plain.address, call).expect("setScope");
        let set = events::<S::ScopeSet>(&receipt, chain.scope);
        assert_eq!(set.len(), 1);
        assert_eq!(
            (set[0].operatorOmni, set[0].actorOmni, set[0].nonce),
            (op, actor, U256::from(1))
        );
        assert_eq!(set[0].services, list);
        assert_eq!(chain.nonce(op, actor), U256::from(1));
        assert!(chain.in_scope(op, actor, "openrouter"));
        assert!(chain.in_scope(op, actor, "anthropic"));
        assert!(!chain.in_scope(op, actor, "github"));
        assert_eq!(chain.scope(op, actor), list);
        // Scopes are per (operator, actor).
        assert!(!chain.in_scope(op, B256::repeat_byte(0x63), "openrouter"));
        assert!(!chain.in_scope(B256::repeat_byte(0x63), actor, "openrouter"));
        // The approver's sign count is tracked here.
        let count: u32 = chain.view(S::approverSignCountCall(first.hash()));
        assert_eq!(count, first.passkey.counter.get());

        // Replace: the new set is exactly what is in scope.
        let list = services(&["github", "anthropic", "aws"]);
        let call = chain.set_call(op, actor, &list, &first);
        let receipt = chain.send(first.address, call).expect("replace");
        let set = events::<S::ScopeSet>(&receipt, chain.scope);
        assert_eq!(
            (set[0].services.clone(), set[0].nonce),
            (list.clone(), U256::from(2))
        );
        assert!(!chain.in_scope(op, actor, "openrouter"));
        for name in ["github", "anthropic", "aws"] {
            assert!(chain.in_scope(op, actor, name), "{name}");
        }
        assert_eq!(chain.scope(op, actor), list);

        // Replace with a shorter set: the old tail is gone from getScope too.
        let list = services(&["aws"]);
        let call = chain.set_call(op, actor, &list, &first);
        chain.send(first.address, call).expect("shrink");
        assert_eq!(chain.scope(op, actor), list);
        assert!(!chain.in_scope(op, actor, "github"));
        assert!(chain.in_scope(op, actor, "aws"));

        // Revoke: nothing in scope.
        let call = chain.revoke_call(op, actor, &first);
        let receipt = chain.send(first.address, call).expect("revokeScope");
        let revoked = events::<S::ScopeRevoked>(&receipt, chain.scope);
        assert_eq!(revoked.len(), 1);
        assert_eq!(
            (
                revoked[0].operatorOmni,
                revoked[0].actorOmni,
                revoked[0].nonce
            ),
            (op, actor, U256::from(4))
        );
        assert!(events::<S::ScopeSet>(&receipt, chain.scope).is_empty());
        for name in ["openrouter", "github", "anthropic", "aws"] {
            assert!(!chain.in_scope(op, actor, name), "{name}");
        }
        assert!(chain.scope(op, actor).is_empty());
        assert_eq!(chain.nonce(op, actor), U256::from(4));

        // A set after a revoke works again, and the empty set is allowed.
        let list = services(&["aws"]);
        let call = chain.set_call(op, actor, &list, &first);
        chain.send(first.address, call).expect("set again");
        assert!(chain.in_scope(op, actor, "aws"));
        let call = chain.set_call(op, actor, &[], &first);
        chain.send(first.address, call).expect("empty set");
        assert!(!chain.in_scope(op, actor, "aws"));
        assert!(chain.scope(op, actor).is_empty());
        assert_eq!(chain.nonce(op, actor), U256::from(6));
    }
}

#[test]
fn revoking_the_agent_clears_its_scope_for_good() {
    for spec in SPECS {
        let Fixture {
            mut chain,
            op,
            actor,
            agent,
            first,
            ..
        } = fixture(spec);
        let list = services(&["openrouter", "aws"]);
        let call = chain.set_call(op, actor, &list, &first);
        chain.send(first.address, call).expect("setScope");
        assert!(chain.in_scope(op, actor, "aws"));

        chain.reg(
            first.address,
            R::revokeAgentDeviceCall {
                deviceKeyHash: device_hash(agent),
            },
        );
        assert!(!chain.in_scope(op, actor, "aws"));
        assert!(!chain.in_scope(op, actor, "openrouter"));
        assert!(chain.scope(op, actor).is_empty());
        // Neither can a passkey give the revoked actor a scope again.
        let call = chain.set_call(op, actor, &list, &first);
        let err = expect::<S::NotActiveAgentActor>(chain.send(first.address, call));
        assert_eq!((err.operatorOmni, err.actorOmni), (op, actor));
        let call = chain.revoke_call(op, actor, &first);
        expect::<S::NotActiveAgentActor>(chain.send(first.address, call));
        assert_eq!(chain.nonce(op, actor), U256::from(1));
        // The next generation is another actor, with an empty scope of its own.
        let next = agent_actor(op, "bot", 2);
        assert_ne!(next, actor);
        let k = K10::new(0x67);
        let call = R::registerAgentDeviceCall {
            agent: k.address,
            label: "bot".into(),
            generation: 2,
            agentSig: k.sign(agent_consent(chain.registry, op, next, k.address)),
        };
        chain.reg(first.address, call);
        assert!(chain.scope(op, next).is_empty());
        assert!(!chain.in_scope(op, next, "aws"));
    }
}

#[test]
fn approver_refusals() {
    for spec in SPECS {
        let Fixture {
            mut chain,
            op,
            actor,
            first,
            plain,
            spare,
            stranger,
            ..
        } = fixture(spec);
        let list = services(&["openrouter"]);
        // Without SCOPE_MGMT, of another operator, revoked, unknown: the same refusal, for
        // set and revoke alike.
        for approver in [&plain, &stranger, &spare] {
            let call = chain.set_call(op, actor, &list, approver);
            let err = expect::<S::NotScopeApprover>(chain.send(first.address, call));
            assert_eq!(err.deviceKeyHash, approver.hash());
            let call = chain.revoke_call(op, actor, approver);
            let err = expect::<S::NotScopeApprover>(chain.send(first.address, call));
            assert_eq!(err.deviceKeyHash, approver.hash());
        }
        let mut call = chain.set_call(op, actor, &list, &first);
        call.approverDeviceKeyHash = B256::repeat_byte(7);
        let err = expect::<S::NotScopeApprover>(chain.send(first.address, call));
        assert_eq!(err.deviceKeyHash, B256::repeat_byte(7));
        // The agent device is not a master.
        let mut call = chain.set_call(op, actor, &list, &first);
        call.approverDeviceKeyHash = device_hash(K10::new(0x61).address);
        expect::<S::NotScopeApprover>(chain.send(first.address, call));
        // The stranger approving a change of its own operator's agent works, so the refusal
        // above was about the operator.
        let other = operator_omni(stranger.address);
        let own = chain.add_agent(other, &stranger, &K10::new(0x65), "bot");
        let call = chain.set_call(other, own, &list, &stranger);
        chain
            .send(stranger.address, call)
            .expect("the stranger's own operator");
        assert!(chain.in_scope(other, own, "openrouter"));
        assert!(!chain.in_scope(op, actor, "openrouter"));
        assert_eq!(chain.nonce(op, actor), U256::ZERO);
    }
}

#[test]
fn submitter_refusals() {
    for spec in SPECS {
        let Fixture {
            mut chain,
            op,
            actor,
            agent,
            first,
            spare,
            stranger,
            ..
        } = fixture(spec);
        let list = services(&["openrouter"]);
        // Not a device, an agent device, a revoked master, a master of another operator.
        for submitter in [outsider(), agent, spare.address, stranger.address] {
            let call = chain.set_call(op, actor, &list, &first);
            let err = expect::<S::SubmitterNotMaster>(chain.send(submitter, call));
            assert_eq!((err.submitter, err.operatorOmni), (submitter, op));
            let call = chain.revoke_call(op, actor, &first);
            let err = expect::<S::SubmitterNotMaster>(chain.send(submitter, call));
            assert_eq!((err.submitter, err.operatorOmni), (submitter, op));
        }
        // The actor must be an active agent actor of the operator: not empty, not the
        // operator itself, not one never registered, not another operator's agent (nor the
        // other operator's omni), even with that operator's own approval.
        let other = operator_omni(stranger.address);
        let foreign = chain.add_agent(other, &stranger, &K10::new(0x65), "bot");
        for bad in [B256::ZERO, op, agent_actor(op, "bot", 2), foreign, other] {
            let call = chain.set_call(op, bad, &list, &first);
            let err = expect::<S::NotActiveAgentActor>(chain.send(first.address, call));
            assert_eq!((err.operatorOmni, err.actorOmni), (op, bad));
            let call = chain.revoke_call(op, bad, &first);
            expect::<S::NotActiveAgentActor>(chain.send(first.address, call));
        }
        // A stranger naming the victim's agent under its own operator, or under the victim's.
        let call = chain.set_call(other, actor, &list, &stranger);
        let err = expect::<S::NotActiveAgentActor>(chain.send(stranger.address, call));
        assert_eq!((err.operatorOmni, err.actorOmni), (other, actor));
        let call = chain.set_call(op, actor, &list, &stranger);
        expect::<S::SubmitterNotMaster>(chain.send(stranger.address, call));
        assert_eq!(chain.nonce(op, actor), U256::ZERO);
        assert!(!chain.in_scope(other, actor, "openrouter"));
    }
}

#[test]
fn assertion_refusals() {
    for spec in SPECS {
        let Fixture {
            mut chain,
            op,
            actor,
            first,
            ..
        } = fixture(spec);
        let list = services(&["openrouter", "anthropic"]);
        let set_ch = chain.challenge(tag("agentkeys.setScope.v1"), op, actor, set_params(&list));

        // Wrong rpIdHash.
        let mut call = chain.set_call(op, actor, &list, &first);
        call.assertion = abi(first
            .passkey
            .assert_with(set_ch, |p| p.rp_id = "evil.example"));
        expect::<K11Verifier::RpIdHashMismatch>(chain.send(first.address, call));

        // UV missing.
        let mut call = chain.set_call(op, actor, &list, &first);
        call.assertion = abi(first.passkey.assert_with(set_ch, |p| p.flags = UP));
        expect::<K11Verifier::UserNotVerified>(chain.send(first.address, call));
        let revoke_ch = chain.challenge(tag("agentkeys.revokeScope.v1"), op, actor, B256::ZERO);
        let mut call = chain.revoke_call(op, actor, &first);
        call.assertion = abi(first.passkey.assert_with(revoke_ch, |p| p.flags = UP));
        expect::<K11Verifier::UserNotVerified>(chain.send(first.address, call));

        // Another service list than the one approved.
        let mut call = chain.set_call(op, actor, &list, &first);
        call.services = services(&["openrouter", "anthropic", "aws"]);
        expect::<K11Verifier::ChallengeMismatch>(chain.send(first.address, call));
        // A set approval is not a revoke approval, nor the reverse.
        let call = chain.set_call(op, actor, &list, &first);
        let revoke = S::revokeScopeCall {
            operatorOmni: op,
            actorOmni: actor,
            approverDeviceKeyHash: first.hash(),
            assertion: call.assertion.clone(),
        };
        expect::<K11Verifier::ChallengeMismatch>(chain.send(first.address, revoke));
        // Another agent's approval.
        let second = chain.add_agent(op, &first, &K10::new(0x66), "bot-2");
        let mut call = chain.set_call(op, actor, &list, &first);
        call.actorOmni = second;
        expect::<K11Verifier::ChallengeMismatch>(chain.send(first.address, call));

        // Duplicate service, validly approved.
        let dup = services(&["openrouter", "anthropic", "openrouter"]);
        let call = chain.set_call(op, actor, &dup, &first);
        let err = expect::<S::DuplicateService>(chain.send(first.address, call));
        assert_eq!(err.service, service("openrouter"));
        assert_eq!(
            chain.nonce(op, actor),
            U256::ZERO,
            "refusals change nothing"
        );

        // Replay: after the set, the nonce moved on, so the same assertion no longer matches.
        let call = chain.set_call(op, actor, &list, &first);
        chain.send(first.address, call.clone()).expect("setScope");
        expect::<K11Verifier::ChallengeMismatch>(chain.send(first.address, call));
        let call = chain.revoke_call(op, actor, &first);
        chain
            .send(first.address, call.clone())
            .expect("revokeScope");
        expect::<K11Verifier::ChallengeMismatch>(chain.send(first.address, call));

        // A stale sign count over the current challenge is refused: the count used here is
        // tracked, even though the registry never saw it.
        let stored: u32 = chain.view(S::approverSignCountCall(first.hash()));
        let registry_count = chain
            .reg_view(R::getDeviceCall {
                deviceKeyHash: first.hash(),
            })
            .lastSignCount;
        assert!(stored > registry_count);
        let ch = chain.challenge(tag("agentkeys.setScope.v1"), op, actor, set_params(&list));
        let mut call = chain.set_call(op, actor, &list, &first);
        call.assertion = abi(first.passkey.assert_with(ch, |p| p.sign_count = stored));
        let err = expect::<K11Verifier::SignCountNotIncreasing>(chain.send(first.address, call));
        assert_eq!((err.stored, err.presented), (stored, stored));
        // And the registry's count is a floor: a count at or below it is refused too.
        let mut call = chain.set_call(op, actor, &list, &first);
        call.assertion = abi(first
            .passkey
            .assert_with(ch, |p| p.sign_count = registry_count));
        expect::<K11Verifier::SignCountNotIncreasing>(chain.send(first.address, call));
        // With a fresh count it goes through.
        let call = chain.set_call(op, actor, &list, &first);
        chain.send(first.address, call).expect("fresh count");
    }
}

#[test]
fn gas() {
    let mut table = Vec::new();
    for spec in SPECS {
        let Fixture {
            mut chain,
            op,
            actor,
            first,
            ..
        } = fixture(spec);
        let list = services(&["openrouter", "anthropic"]);
        let call = chain.set_call(op, actor, &list, &first);
        let set = chain.send(first.address, call).expect("setScope").gas_used;
        let list = services(&["github", "aws"]);
        let call = chain.set_call(op, actor, &list, &first);
        let replace = chain.send(first.address, call).expect("replace").gas_used;
        let call = chain.revoke_call(op, actor, &first);
        let revoke = chain
            .send(first.address, call)
            .expect("revokeScope")
            .gas_used;
        table.push(("setScope (2 services, first)", spec, set));
        table.push(("setScope (2 services, replacing 2)", spec, replace));
        table.push(("revokeScope (2 services)", spec, revoke));
    }
    println!("\n| AgentKeysScope function | fork | gas (tx) |\n|---|---|---:|");
    for (name, spec, used) in &table {
        println!("| {name} | {spec:?} | {used} |");
    }
    for (name, spec, used) in &table {
        assert!(*used < 600_000, "{name} on {spec:?} used {used} gas");
    }
}
