//! Who the relay submits transactions for, and how much. On a fee chain the relay pays the gas;
//! on the embedded chain every transaction costs it CPU and disk for good. So it submits only
//! for master devices the chain holds as active, a device registering itself as its own
//! operator's first master, and the epoch governance calling its contract; and within a budget
//! of gas per device and per operator, and of first registrations per network and in all.
//! Gas is charged at the transaction's limit (at most the re-estimate × 1.2 on a node), before
//! it is submitted, so concurrent requests cannot overshoot a budget.

use super::views;
use super::ChainAdapter;
use crate::broker::Broker;
use crate::config::SponsorLimits;
use crate::http::rate_limit::RateLimiter;
use agentkeys_core::chain::Tier;
use agentkeys_core::identity::{Address as CoreAddress, Omni};
use agentkeys_core::{ApiError, ErrorCode};
use alloy::primitives::Address;
use std::net::IpAddr;
use std::time::Duration;

const HOUR: Duration = Duration::from_secs(3_600);
/// Keys tracked per budget; past that, new keys share one bucket (see `RateLimiter`).
const BUDGET_KEYS: usize = 100_000;

/// What a transaction is, to the relay that would pay for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Payer {
    /// An active master device of `operator`. `revocation`: the call revokes a device, which
    /// the operator's shared budget never holds up (a stolen device must not be able to spend
    /// it so that the genuine master cannot revoke it).
    Master { operator: Omni, revocation: bool },
    /// A key the chain does not hold, registering itself as its own operator's first master.
    FirstRegistration,
    /// The epoch counter's governance.
    Governance,
}

pub struct SponsorBudget {
    per_device: RateLimiter<CoreAddress>,
    per_operator: RateLimiter<Omni>,
    first_per_ip: RateLimiter<IpAddr>,
    first_all: RateLimiter<()>,
}

impl SponsorBudget {
    pub fn new(limits: SponsorLimits) -> SponsorBudget {
        SponsorBudget {
            per_device: RateLimiter::budget(limits.gas_per_device_per_hour, HOUR, BUDGET_KEYS),
            per_operator: RateLimiter::budget(limits.gas_per_operator_per_hour, HOUR, BUDGET_KEYS),
            first_per_ip: RateLimiter::budget(
                limits.first_registrations_per_ip_per_hour,
                HOUR,
                BUDGET_KEYS,
            ),
            first_all: RateLimiter::budget(limits.first_registrations_per_hour, HOUR, 1),
        }
    }

    /// Charges a transaction of `gas` gas from `device` (at `peer`) to its budgets. A refusal
    /// by a later budget does not give back what an earlier one took: the caller was over a
    /// limit anyway.
    pub fn charge(
        &self,
        payer: Payer,
        device: &CoreAddress,
        peer: IpAddr,
        gas: u64,
    ) -> Result<(), ApiError> {
        let fits = match payer {
            Payer::Master {
                operator,
                revocation,
            } => {
                self.per_device.take(device, gas)
                    && (revocation || self.per_operator.take(&operator, gas))
            }
            Payer::FirstRegistration => {
                self.first_per_ip.take(&peer, 1)
                    && self.first_all.take(&(), 1)
                    && self.per_device.take(device, gas)
            }
            Payer::Governance => self.per_device.take(device, gas),
        };
        if fits {
            Ok(())
        } else {
            Err(ErrorCode::SponsorBudgetExhausted.into())
        }
    }
}

/// The calls a device not on chain may have mined: registering itself as the first master of
/// the operator its own address derives (the contract binds that to the sender).
pub fn is_first_registration(chain: &dyn ChainAdapter, to: Address, input: &[u8]) -> bool {
    use agentkeys_contracts::bindings::SidecarRegistry as R;
    use alloy::sol_types::SolCall;
    to == chain.contracts().registry
        && input.get(..4).is_some_and(|selector| {
            selector == R::registerFirstMasterDeviceCall::SELECTOR
                || selector == R::registerFirstMasterDeviceWithoutPasskeyCall::SELECTOR
        })
}

/// A master revoking an agent or another master.
fn is_revocation(chain: &dyn ChainAdapter, to: Address, input: &[u8]) -> bool {
    use agentkeys_contracts::bindings::SidecarRegistry as R;
    use alloy::sol_types::SolCall;
    to == chain.contracts().registry
        && input.get(..4).is_some_and(|selector| {
            selector == R::revokeAgentDeviceCall::SELECTOR
                || selector == R::revokeMasterDeviceCall::SELECTOR
        })
}

/// Who would pay for `device`'s call of `input` on `to`: refuses a revoked device, an agent
/// device (no contract function is an agent's to call), and a device not on chain unless it
/// is that device's own first registration or the epoch governance calling its contract.
pub async fn payer(
    chain: &dyn ChainAdapter,
    broker: &Broker,
    device: &CoreAddress,
    to: Address,
    input: &[u8],
) -> Result<Payer, ApiError> {
    match broker.authority.device(device).await? {
        Some(d) if d.revoked => Err(ErrorCode::DeviceRevoked.into()),
        Some(d) if d.tier == Tier::Master => Ok(Payer::Master {
            operator: d.operator,
            revocation: is_revocation(chain, to, input),
        }),
        Some(_) => Err(ApiError::new(
            ErrorCode::TxNotSponsored,
            "an agent device has no transaction to submit; its operator's masters manage it",
        )),
        None if is_first_registration(chain, to, input) => Ok(Payer::FirstRegistration),
        None if to == chain.contracts().epoch
            && views::epoch_governance(chain)
                .await
                .map_err(super::routes::chain_failure)?
                == Address::from(device.0) =>
        {
            Ok(Payer::Governance)
        }
        None => Err(ApiError::new(
            ErrorCode::DeviceNotRegistered,
            "the relay submits transactions only for registered devices, or a device's own first registration",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits() -> SponsorLimits {
        SponsorLimits {
            gas_per_device_per_hour: 1_000_000,
            gas_per_operator_per_hour: 1_500_000,
            first_registrations_per_ip_per_hour: 2,
            first_registrations_per_hour: 3,
        }
    }

    fn code(r: Result<(), ApiError>) -> &'static str {
        r.unwrap_err().code.as_str()
    }

    #[test]
    fn a_device_and_its_operator_spend_from_their_own_budgets() {
        let b = SponsorBudget::new(limits());
        let (a, c, other) = (
            CoreAddress([1; 20]),
            CoreAddress([2; 20]),
            CoreAddress([3; 20]),
        );
        let op = Payer::Master {
            operator: Omni([7; 32]),
            revocation: false,
        };
        let ip = IpAddr::from([127, 0, 0, 1]);
        b.charge(op, &a, ip, 900_000).unwrap();
        assert_eq!(
            code(b.charge(op, &a, ip, 200_000)),
            "sponsor_budget_exhausted"
        );
        // Another master of the same operator has its own device budget, but the operator's
        // is nearly spent.
        b.charge(op, &c, ip, 500_000).unwrap();
        assert_eq!(
            code(b.charge(op, &c, ip, 200_000)),
            "sponsor_budget_exhausted"
        );
        // Another operator's master is untouched.
        let op2 = Payer::Master {
            operator: Omni([8; 32]),
            revocation: false,
        };
        b.charge(op2, &other, ip, 900_000).unwrap();
        // A revocation is never held up by the operator's spent budget, only by the device's.
        let d = CoreAddress([4; 20]);
        let revoke = Payer::Master {
            operator: Omni([7; 32]),
            revocation: true,
        };
        assert_eq!(
            code(b.charge(op, &d, ip, 200_000)),
            "sponsor_budget_exhausted"
        );
        b.charge(revoke, &d, ip, 200_000).unwrap();
    }

    #[test]
    fn first_registrations_are_bounded_per_network_and_in_all() {
        let b = SponsorBudget::new(limits());
        let f = Payer::FirstRegistration;
        let (ip1, ip2) = (IpAddr::from([10, 0, 0, 1]), IpAddr::from([10, 0, 0, 2]));
        b.charge(f, &CoreAddress([1; 20]), ip1, 200_000).unwrap();
        b.charge(f, &CoreAddress([2; 20]), ip1, 200_000).unwrap();
        assert_eq!(
            code(b.charge(f, &CoreAddress([3; 20]), ip1, 200_000)),
            "sponsor_budget_exhausted"
        );
        b.charge(f, &CoreAddress([4; 20]), ip2, 200_000).unwrap();
        // Three in all this hour, whichever network asks.
        assert_eq!(
            code(b.charge(f, &CoreAddress([5; 20]), ip2, 200_000)),
            "sponsor_budget_exhausted"
        );
    }

    #[test]
    fn zero_turns_a_budget_off() {
        let b = SponsorBudget::new(SponsorLimits {
            gas_per_device_per_hour: 0,
            gas_per_operator_per_hour: 0,
            first_registrations_per_ip_per_hour: 0,
            first_registrations_per_hour: 0,
        });
        let ip = IpAddr::from([127, 0, 0, 1]);
        for i in 0..100u8 {
            b.charge(
                Payer::FirstRegistration,
                &CoreAddress([i; 20]),
                ip,
                u64::MAX,
            )
            .unwrap();
        }
    }
}
