//! A client that plays the daemon against a real relay: SIWE sign-in, capability minting,
//! vault calls with proofs of possession, with hooks to forge any part for negative tests.

use agentkeys_core::cap::peek_claims;
use agentkeys_core::device_key::DeviceKey;
use agentkeys_core::identity::Omni;
use agentkeys_core::names::{DataClass, Op};
use agentkeys_core::pop;
use agentkeys_core::routes;
use agentkeys_core::siwe_msg::{self, SiweChallenge};
use agentkeys_core::time_util::now_secs;
use agentkeys_core::wire::{CapRequest, NameRequest, PutRequest, SecretValue, SessionResponse};
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

    pub async fn sign_in(&mut self) -> SessionResponse {
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
