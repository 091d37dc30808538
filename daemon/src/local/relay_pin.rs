//! `relay_pin.json`: the relay's session keys (K1, the public JWKs of purpose `session`) and
//! its chain id, pinned at `agentkeys init`. Every session and capability the daemon receives
//! is verified against these keys, so a process answering at the relay's address with keys of
//! its own is refused. Public data; only this user may change it (0600 in the 0700 folder).
//!
//! The relay creates K1 once in its data folder and never rotates it, so a changed key means
//! another relay: the pin changes only through `agentkeys init --repin`.

use std::path::Path;

use agentkeys_core::chain::ContractAddresses;
use agentkeys_core::error::{ApiError, ErrorCode};
use agentkeys_core::es256::{thumbprint, Jwk, Jwks, KeyPurpose};
use serde::{Deserialize, Serialize};

const FILE: &str = "relay_pin.json";

/// How the pin was taken.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PinSource {
    /// `agentkeys init` (or `init --repin`).
    Init,
    /// The first sign-in of a daemon whose state predates pinning (trust on first use).
    FirstUse,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RelayPin {
    /// Where the keys were fetched; for the user's information only, so that a relay restarted
    /// on another port (same data folder, same keys) keeps working.
    pub relay_url: String,
    pub chain_id: u64,
    /// Where a chain read directly (`--rpc-url`) finds the registry and the audit contract.
    pub contracts: ContractAddresses,
    /// Session-purpose keys only: K2 signs OIDC tokens, never anything the daemon accepts.
    pub keys: Vec<Jwk>,
    pub source: PinSource,
    pub pinned_at: u64,
}

impl RelayPin {
    /// The pin of the relay that serves `jwks` on `chain_id`; refused when it has no session
    /// key or a key whose `kid` is not its thumbprint (the fingerprint the user is shown must
    /// be the key's own).
    pub fn from_relay(
        relay_url: &str,
        jwks: &Jwks,
        chain_id: u64,
        contracts: &ContractAddresses,
        source: PinSource,
        now: u64,
    ) -> Result<RelayPin, ApiError> {
        let keys: Vec<Jwk> = jwks
            .keys
            .iter()
            .filter(|k| k.agentkeys_purpose == KeyPurpose::Session)
            .cloned()
            .collect();
        let pin = RelayPin {
            relay_url: relay_url.to_string(),
            chain_id,
            contracts: contracts.clone(),
            keys,
            source,
            pinned_at: now,
        };
        pin.check().map_err(|why| {
            ApiError::new(
                ErrorCode::RelayProtocol,
                format!("the relay's key set cannot be pinned: {why}"),
            )
        })?;
        Ok(pin)
    }

    fn check(&self) -> Result<(), &'static str> {
        if self.keys.is_empty() {
            return Err("it has no session key");
        }
        let sound = |k: &Jwk| {
            k.kty == "EC"
                && k.crv == "P-256"
                && k.alg == "ES256"
                && k.agentkeys_purpose == KeyPurpose::Session
                && k.kid == thumbprint(&k.x, &k.y)
        };
        if self.keys.iter().all(sound) {
            Ok(())
        } else {
            Err("a session key is not a P-256 ES256 key named by its thumbprint")
        }
    }

    pub fn jwks(&self) -> Jwks {
        Jwks {
            keys: self.keys.clone(),
        }
    }

    /// `SHA256:<kid>`: the RFC 7638 thumbprint, as ssh shows host keys.
    pub fn fingerprints(&self) -> Vec<String> {
        let mut f: Vec<String> = self
            .keys
            .iter()
            .map(|k| format!("SHA256:{}", k.kid))
            .collect();
        f.sort();
        f
    }

    /// Same keys, chain and contracts, wherever and however each was taken.
    pub fn same_relay(&self, other: &RelayPin) -> bool {
        self.chain_id == other.chain_id
            && self.contracts == other.contracts
            && self.fingerprints() == other.fingerprints()
    }
}

/// `None` before the first pin. A file that does not parse or holds an unsound key is an
/// error, never "no pin": that would turn a damaged pin into trust on first use.
pub fn load(data_dir: &Path) -> Result<Option<RelayPin>, ApiError> {
    let pin: Option<RelayPin> = super::read_json(&data_dir.join(FILE))?;
    if let Some(p) = &pin {
        p.check().map_err(|why| {
            ApiError::new(
                ErrorCode::Internal,
                format!(
                    "{} is damaged ({why}); run `agentkeys init --repin` against your relay",
                    data_dir.join(FILE).display()
                ),
            )
        })?;
    }
    Ok(pin)
}

pub fn save(data_dir: &Path, pin: &RelayPin) -> Result<(), ApiError> {
    super::write_json(&data_dir.join(FILE), pin)
}

#[cfg(test)]
mod tests {
    use super::*;
    use agentkeys_core::es256::Es256Key;
    use agentkeys_core::identity::Address;

    fn contracts() -> ContractAddresses {
        let a = Address([9; 20]);
        ContractAddresses {
            p256_verifier: a,
            k11_verifier: a,
            registry: a,
            scope: a,
            epoch: a,
            audit: a,
        }
    }

    fn jwks(keys: &[&Es256Key]) -> Jwks {
        Jwks {
            keys: keys.iter().map(|k| k.jwk().clone()).collect(),
        }
    }

    #[test]
    fn pins_session_keys_only_and_round_trips() {
        let dir = tempfile::tempdir().unwrap();
        let k1 = Es256Key::from_secret(KeyPurpose::Session, &[1; 32]).unwrap();
        let k2 = Es256Key::from_secret(KeyPurpose::Oidc, &[2; 32]).unwrap();
        let pin = RelayPin::from_relay(
            "http://r",
            &jwks(&[&k1, &k2]),
            7,
            &contracts(),
            PinSource::Init,
            5,
        )
        .unwrap();
        assert_eq!(pin.fingerprints(), vec![format!("SHA256:{}", k1.kid())]);
        assert_eq!(load(dir.path()).unwrap(), None);
        save(dir.path(), &pin).unwrap();
        assert_eq!(load(dir.path()).unwrap(), Some(pin.clone()));

        let moved = RelayPin::from_relay(
            "http://other",
            &jwks(&[&k1]),
            7,
            &contracts(),
            PinSource::FirstUse,
            9,
        )
        .unwrap();
        assert!(pin.same_relay(&moved), "a new port is the same relay");
        let other_chain = RelayPin::from_relay(
            "http://r",
            &jwks(&[&k1]),
            8,
            &contracts(),
            PinSource::Init,
            9,
        )
        .unwrap();
        assert!(!pin.same_relay(&other_chain));
        let k1b = Es256Key::from_secret(KeyPurpose::Session, &[3; 32]).unwrap();
        let other_key = RelayPin::from_relay(
            "http://r",
            &jwks(&[&k1b]),
            7,
            &contracts(),
            PinSource::Init,
            9,
        )
        .unwrap();
        assert!(!pin.same_relay(&other_key));
    }

    #[test]
    fn unsound_key_sets_are_refused() {
        let k2 = Es256Key::from_secret(KeyPurpose::Oidc, &[2; 32]).unwrap();
        let err = RelayPin::from_relay(
            "http://r",
            &jwks(&[&k2]),
            7,
            &contracts(),
            PinSource::Init,
            5,
        )
        .unwrap_err();
        assert_eq!(err.code, ErrorCode::RelayProtocol);

        let k1 = Es256Key::from_secret(KeyPurpose::Session, &[1; 32]).unwrap();
        let mut renamed = jwks(&[&k1]);
        renamed.keys[0].kid = "chosen-by-the-relay".into();
        let err = RelayPin::from_relay("http://r", &renamed, 7, &contracts(), PinSource::Init, 5)
            .unwrap_err();
        assert_eq!(err.code, ErrorCode::RelayProtocol);

        // A damaged file is an error, not a missing pin.
        let dir = tempfile::tempdir().unwrap();
        let mut pin = RelayPin::from_relay(
            "http://r",
            &jwks(&[&k1]),
            7,
            &contracts(),
            PinSource::Init,
            5,
        )
        .unwrap();
        pin.keys[0].kid = "x".into();
        save(dir.path(), &pin).unwrap();
        assert_eq!(load(dir.path()).unwrap_err().code, ErrorCode::Internal);
    }
}
