//! A client that plays the daemon against a real relay: SIWE sign-in, capability minting,
//! vault calls with proofs of possession, with hooks to forge any part for negative tests.

use agentkeys_contracts::bindings::SidecarRegistry;
use agentkeys_core::cap::peek_claims;
use agentkeys_core::chain::{
    ChainStatus, DeviceView, SubmitTxRequest, TxParams, TxParamsRequest, TxReceiptView,
};
use agentkeys_core::device_key::DeviceKey;
use agentkeys_core::identity::{Address, Omni};
use agentkeys_core::names::{DataClass, Op};
use agentkeys_core::pop;
use agentkeys_core::routes;
use agentkeys_core::siwe_msg::{self, SiweChallenge};
use agentkeys_core::time_util::now_secs;
use agentkeys_core::wire::{CapRequest, NameRequest, PutRequest, SecretValue, SessionResponse};
use agentkeys_daemon::relay_client::chain_tx::sign_call;
use alloy::sol_types::SolCall;
use serde_json::Value;

pub struct RelayClient {
    pub http: reqwest::Client,
    pub url: String,
    pub key: DeviceKey,
    pub session: Option<String>,
}

/// How to attach the proof of possession.
pub enum Pop<'a> {
    Valid,
    Missing,
    Raw(String),
    SignedBy(&'a DeviceKey),
    At(u64),
}

pub fn code(v: &Value) -> String {
    v["error"]["code"]
        .as_str()
        .unwrap_or("<no error code>")
        .to_string()
}

impl RelayClient {
    pub fn new(url: &str) -> RelayClient {
        RelayClient {
            http: reqwest::Client::builder()
                .timeout(std::time::Duration::from_secs(30))
                .build()
                .expect("client"),
            url: url.to_string(),
            key: DeviceKey::generate(),
            session: None,
        }
    }

    pub fn operator(&self) -> Omni {
        Omni::operator(&self.key.address())
    }

    pub async fn post_raw(
        &self,
        path: &str,
        headers: &[(&str, String)],
        body: Vec<u8>,
    ) -> (u16, Value) {
        let mut req = self
            .http
            .post(format!("{}{path}", self.url))
            .header("content-type", "application/json")
            .body(body);
        for (k, v) in headers {
            req = req.header(*k, v);
        }
        // Status 0 stands for "no HTTP answer" (connection refused or reset).
        let Ok(resp) = req.send().await else {
            return (0, Value::Null);
        };
        let status = resp.status().as_u16();
        let Ok(bytes) = resp.bytes().await else {
            return (0, Value::Null);
        };
        (
            status,
            serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        )
    }

    pub async fn challenge(&self) -> SiweChallenge {
        let body = serde_json::json!({ "address": self.key.address() })
            .to_string()
            .into_bytes();
        let (status, v) = self.post_raw(routes::SIWE_START, &[], body).await;
        assert_eq!(status, 200, "{v}");
        serde_json::from_value(v).expect("challenge")
    }

    pub async fn verify(&self, message: &str, signature: &str) -> (u16, Value) {
        let body = serde_json::json!({ "message": message, "signature": signature })
            .to_string()
            .into_bytes();
        self.post_raw(routes::SIWE_VERIFY, &[], body).await
    }

    /// Signs in, first registering the device on chain as its operator's first master if it
    /// is not registered yet (what `agentkeys init` does), so capabilities can be minted.
    pub async fn sign_in(&mut self) -> SessionResponse {
        let s = self.sign_in_only().await;
        if self.registered_device().await.is_none() {
            let receipt = self.register_first_master().await;
            assert!(receipt.success, "registration reverted: {receipt:?}");
            return self.sign_in_only().await;
        }
        s
    }

    /// The device's on-chain entry, `None` when not registered.
    pub async fn registered_device(&self) -> Option<DeviceView> {
        let url = format!(
            "{}/v1/chain/device/0x{}",
            self.url,
            hex::encode(self.key.address().device_key_hash())
        );
        let resp = self.http.get(url).send().await.expect("chain device");
        match resp.status().as_u16() {
            200 => Some(resp.json().await.expect("device view")),
            403 => None,
            other => panic!("GET chain device: HTTP {other}"),
        }
    }

    /// Sends `input` to `to` as a transaction signed by this device (session required).
    pub async fn send_call(&self, to: &Address, input: Vec<u8>) -> (u16, Value) {
        let session = self.session.clone().expect("signed in");
        let auth = [("authorization", format!("Bearer {session}"))];
        let req = TxParamsRequest {
            to: *to,
            data: format!("0x{}", hex::encode(&input)),
        };
        let (status, v) = self
            .post_raw(
                routes::CHAIN_TX_PARAMS,
                &auth,
                serde_json::to_vec(&req).expect("json"),
            )
            .await;
        if status != 200 {
            return (status, v);
        }
        let params: TxParams = serde_json::from_value(v).expect("tx params");
        let raw = sign_call(&self.key, &params, to, input).expect("sign");
        let body = serde_json::to_vec(&SubmitTxRequest {
            raw: format!("0x{}", hex::encode(raw)),
        })
        .expect("json");
        self.post_raw(routes::CHAIN_TX, &auth, body).await
    }

    pub async fn chain_status(&self) -> ChainStatus {
        let resp = self
            .http
            .get(format!("{}{}", self.url, routes::CHAIN_STATUS))
            .send()
            .await
            .expect("chain status");
        assert_eq!(resp.status().as_u16(), 200);
        resp.json().await.expect("chain status json")
    }

    /// `registerFirstMasterDeviceWithoutPasskey()` from this device.
    pub async fn register_first_master(&self) -> TxReceiptView {
        let registry = self.chain_status().await.contracts.registry;
        let (status, v) = self
            .send_call(
                &registry,
                SidecarRegistry::registerFirstMasterDeviceWithoutPasskeyCall {}.abi_encode(),
            )
            .await;
        assert_eq!(status, 200, "{v}");
        serde_json::from_value(v).expect("receipt")
    }

    /// SIWE sign-in alone.
    pub async fn sign_in_only(&mut self) -> SessionResponse {
        let c = self.challenge().await;
        let msg = siwe_msg::build_message(&c, &self.key.address()).expect("message");
        let sig = format!("0x{}", hex::encode(self.key.sign_personal(msg.as_bytes())));
        let (status, v) = self.verify(&msg, &sig).await;
        assert_eq!(status, 200, "{v}");
        let s: SessionResponse = serde_json::from_value(v).expect("session");
        self.session = Some(s.session.clone());
        s
    }

    pub async fn cap_request(
        &self,
        dc: DataClass,
        op: Op,
        req: &CapRequest,
        session: Option<&str>,
    ) -> (u16, Value) {
        let headers: Vec<(&str, String)> = session
            .map(|s| ("authorization", format!("Bearer {s}")))
            .into_iter()
            .collect();
        self.post_raw(
            routes::cap_route(dc, op),
            &headers,
            serde_json::to_vec(req).expect("json"),
        )
        .await
    }

    pub async fn cap(&self, dc: DataClass, op: Op, service: &str) -> String {
        let req = CapRequest {
            operator: self.operator(),
            actor: self.operator(),
            service: service.to_string(),
            ttl_secs: None,
        };
        let (status, v) = self
            .cap_request(dc, op, &req, self.session.as_deref())
            .await;
        assert_eq!(status, 200, "{v}");
        v["cap"].as_str().expect("cap").to_string()
    }

    pub async fn vault_on(
        &self,
        path: &str,
        cap: Option<&str>,
        body: Vec<u8>,
        proof: Pop<'_>,
    ) -> (u16, Value) {
        let mut headers = Vec::new();
        if let Some(c) = cap {
            headers.push(("authorization", format!("Bearer {c}")));
        }
        let jti = cap.and_then(peek_claims).map(|c| c.jti).unwrap_or_default();
        let now = now_secs();
        let header = match proof {
            Pop::Valid => Some(pop::sign(&self.key, &jti, "POST", path, &body, now)),
            Pop::Missing => None,
            Pop::Raw(s) => Some(s),
            Pop::SignedBy(k) => Some(pop::sign(k, &jti, "POST", path, &body, now)),
            Pop::At(ts) => Some(pop::sign(&self.key, &jti, "POST", path, &body, ts)),
        };
        if let Some(h) = header {
            headers.push((pop::POP_HEADER, h));
        }
        self.post_raw(path, &headers, body).await
    }

    pub async fn vault(
        &self,
        dc: DataClass,
        op: Op,
        cap: Option<&str>,
        body: Vec<u8>,
        proof: Pop<'_>,
    ) -> (u16, Value) {
        self.vault_on(routes::vault_route(dc, op), cap, body, proof)
            .await
    }

    pub async fn store(&self, dc: DataClass, name: &str, value: &[u8]) -> (u16, Value) {
        let cap = self.cap(dc, Op::Store, name).await;
        let body = serde_json::to_vec(&PutRequest {
            name: name.into(),
            value: SecretValue::from_bytes(value),
        })
        .expect("json");
        self.vault(dc, Op::Store, Some(&cap), body, Pop::Valid)
            .await
    }

    /// Store that reports any failure (including minting) as a status instead of panicking.
    pub async fn try_store(&self, dc: DataClass, name: &str, value: &[u8]) -> u16 {
        let req = CapRequest {
            operator: self.operator(),
            actor: self.operator(),
            service: name.to_string(),
            ttl_secs: None,
        };
        let (status, v) = self
            .cap_request(dc, Op::Store, &req, self.session.as_deref())
            .await;
        let Some(cap) = v["cap"].as_str().filter(|_| status == 200) else {
            return status;
        };
        let body = serde_json::to_vec(&PutRequest {
            name: name.into(),
            value: SecretValue::from_bytes(value),
        })
        .expect("json");
        self.vault(dc, Op::Store, Some(cap), body, Pop::Valid)
            .await
            .0
    }

    pub async fn fetch(&self, dc: DataClass, name: &str) -> (u16, Value) {
        let cap = self.cap(dc, Op::Fetch, name).await;
        let body = serde_json::to_vec(&NameRequest { name: name.into() }).expect("json");
        self.vault(dc, Op::Fetch, Some(&cap), body, Pop::Valid)
            .await
    }

    /// The fetched value decoded, or panics with the error.
    pub async fn fetch_value(&self, dc: DataClass, name: &str) -> Vec<u8> {
        let (status, v) = self.fetch(dc, name).await;
        assert_eq!(status, 200, "{v}");
        let sv: SecretValue = serde_json::from_value(v["value"].clone()).expect("value");
        sv.decode().expect("base64").to_vec()
    }
}
