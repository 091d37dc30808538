//! What the relay pays for (gas on a fee chain, disk and CPU on the embedded one): a budget of
//! gas per device and per operator, and a budget of first-master registrations, the one kind
//! of transaction a key unknown to the chain may have mined. 0 turns a budget off.

use super::signin::number;
use super::{BootFail, FileConfig};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SponsorLimits {
    /// Gas per hour the relay submits for one device (charged at each transaction's limit).
    pub gas_per_device_per_hour: u64,
    /// Gas per hour for all the devices of one operator together.
    pub gas_per_operator_per_hour: u64,
    /// First-master registrations (transactions and approval requests) per hour from one IPv4
    /// address or IPv6 /64.
    pub first_registrations_per_ip_per_hour: u64,
    /// First-master registration transactions per hour from everyone.
    pub first_registrations_per_hour: u64,
}

impl Default for SponsorLimits {
    fn default() -> Self {
        // A registration costs about 200k gas and a scope change about 100k: a device may make
        // dozens of changes an hour, an operator a few hundred. Each new operator registers
        // once; a flood of throwaway operators is what the last two bound.
        SponsorLimits {
            gas_per_device_per_hour: 10_000_000,
            gas_per_operator_per_hour: 50_000_000,
            first_registrations_per_ip_per_hour: 60,
            first_registrations_per_hour: 1_000,
        }
    }
}

pub const ENV_VARS: &[(&str, &str)] = &[
    (
        "AGENTKEYS_SPONSOR_GAS_PER_DEVICE_PER_HOUR",
        "gas per hour the relay submits for one device (default 10000000, 0 = off)",
    ),
    (
        "AGENTKEYS_SPONSOR_GAS_PER_OPERATOR_PER_HOUR",
        "gas per hour for all the devices of one operator (default 50000000, 0 = off)",
    ),
    (
        "AGENTKEYS_FIRST_REGISTRATIONS_PER_IP_PER_HOUR",
        "first-master registrations per hour per IP or IPv6 /64 (default 60, 0 = off)",
    ),
    (
        "AGENTKEYS_FIRST_REGISTRATIONS_PER_HOUR",
        "first-master registrations per hour in all (default 1000, 0 = off)",
    ),
];

pub(super) fn resolve(
    file: &FileConfig,
    env: &impl Fn(&str) -> Option<String>,
) -> Result<SponsorLimits, BootFail> {
    let d = SponsorLimits::default();
    Ok(SponsorLimits {
        gas_per_device_per_hour: number(
            "sponsor_gas_per_device_per_hour",
            env("AGENTKEYS_SPONSOR_GAS_PER_DEVICE_PER_HOUR"),
            file.sponsor_gas_per_device_per_hour,
            d.gas_per_device_per_hour,
        )?,
        gas_per_operator_per_hour: number(
            "sponsor_gas_per_operator_per_hour",
            env("AGENTKEYS_SPONSOR_GAS_PER_OPERATOR_PER_HOUR"),
            file.sponsor_gas_per_operator_per_hour,
            d.gas_per_operator_per_hour,
        )?,
        first_registrations_per_ip_per_hour: number(
            "first_registrations_per_ip_per_hour",
            env("AGENTKEYS_FIRST_REGISTRATIONS_PER_IP_PER_HOUR"),
            file.first_registrations_per_ip_per_hour,
            d.first_registrations_per_ip_per_hour,
        )?,
        first_registrations_per_hour: number(
            "first_registrations_per_hour",
            env("AGENTKEYS_FIRST_REGISTRATIONS_PER_HOUR"),
            file.first_registrations_per_hour,
            d.first_registrations_per_hour,
        )?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_file_and_environment() {
        let none = |_: &str| None;
        assert_eq!(
            resolve(&FileConfig::default(), &none).unwrap(),
            SponsorLimits::default()
        );
        let file = FileConfig {
            sponsor_gas_per_device_per_hour: Some(0),
            first_registrations_per_hour: Some(5),
            ..Default::default()
        };
        let env = |v: &str| (v == "AGENTKEYS_FIRST_REGISTRATIONS_PER_HOUR").then(|| "7".into());
        let l = resolve(&file, &env).unwrap();
        assert_eq!(
            (l.gas_per_device_per_hour, l.first_registrations_per_hour),
            (0, 7)
        );
        let bad =
            |v: &str| (v == "AGENTKEYS_SPONSOR_GAS_PER_OPERATOR_PER_HOUR").then(|| "lots".into());
        assert_eq!(
            resolve(&file, &bad).unwrap_err().setting,
            "sponsor_gas_per_operator_per_hour"
        );
    }
}
