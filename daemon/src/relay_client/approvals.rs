//! The relay's approval mailbox, from either side: a master asks a companion device and waits
//! for its answer; the companion receives requests by SSE and answers them.
//!
//! Requests received from the stream are validated here again (shape, the requester's
//! signature, expiry, that they are addressed to this device): the relay merely relays, and a
//! request it made up must never reach the person who approves.

use std::time::Duration;

use agentkeys_core::approval::{
    is_request_id, ApprovalAnswer, ApprovalRequest, ApprovalStatus, CreatedApproval, MAX_TTL_SECS,
};
use agentkeys_core::device_key::DeviceKey;
use agentkeys_core::error::{ApiError, ErrorCode};
use agentkeys_core::routes;
use agentkeys_core::time_util::now_secs;
use bytes::Bytes;
use futures::stream::Stream;

use super::http::decode;
use super::{is_stale_token, RelayClient};

/// The relay's longest wait.
pub const MAX_WAIT_SECS: u64 = 30;
/// On top of the wait, for the answer to travel.
const WAIT_SLACK: Duration = Duration::from_secs(10);
/// The relay sends a keep-alive every 15 s; this much silence means the stream is dead.
pub const STREAM_IDLE_TIMEOUT: Duration = Duration::from_secs(60);
/// The relay ends a stream with its session (1 h); the client then opens a new one.
const STREAM_MAX_LIFETIME: Duration = Duration::from_secs(3600 + 60);
/// One event (a request is about 1.5 KiB).
pub const MAX_EVENT_BYTES: usize = 64 * 1024;
const SSE_EVENT: &str = "approval";

fn request_path(id: &str, suffix: &str) -> Result<String, ApiError> {
    // Checked before it becomes part of a URL path.
    if !is_request_id(id) {
        return Err(ApiError::new(
            ErrorCode::ApprovalInvalid,
            "an approval request id is 16 bytes in base64url",
        ));
    }
    Ok(format!("{}{suffix}", routes::APPROVAL.replace("{id}", id)))
}

impl RelayClient {
    /// Submits a request this device signed (see [`ApprovalRequest::new_signed`]).
    pub async fn request_approval(
        &self,
        key: &DeviceKey,
        request: &ApprovalRequest,
    ) -> Result<CreatedApproval, ApiError> {
        self.post_session(key, routes::APPROVALS, request).await
    }

    /// The request's state; with `wait_secs` (capped at 30) the relay answers as soon as it is
    /// no longer pending, or after that long.
    pub async fn approval_status(
        &self,
        key: &DeviceKey,
        id: &str,
        wait_secs: u64,
    ) -> Result<ApprovalStatus, ApiError> {
        let wait = wait_secs.min(MAX_WAIT_SECS);
        let path = request_path(id, &format!("?wait_secs={wait}"))?;
        // get_session's read timeout is shorter than a long poll.
        let timeout = Duration::from_secs(wait) + WAIT_SLACK;
        let address = key.address();
        let first = {
            let token = self.session_token(key, &address).await?;
            self.http.get_with(&path, Some(&token), timeout).await
        };
        let reply = match first {
            Err(e) if is_stale_token(&e) => {
                self.forget().await;
                let token = self.session_token(key, &address).await?;
                self.http.get_with(&path, Some(&token), timeout).await?
            }
            other => other?,
        };
        decode(&path, &reply)
    }

    /// Answers a request addressed to this device.
    pub async fn answer_approval(
        &self,
        key: &DeviceKey,
        id: &str,
        answer: &ApprovalAnswer,
    ) -> Result<ApprovalStatus, ApiError> {
        let path = request_path(id, "/answer")?;
        self.post_session(key, &path, answer).await
    }

    /// Opens the stream of requests addressed to this device: those already waiting, then new
    /// ones. The stream ends when the relay ends it (shutdown, session expiry); an `Err` item
    /// (silence past [`STREAM_IDLE_TIMEOUT`], a broken connection, an oversized or unreadable
    /// event) is always the last. Requests that fail validation are skipped with a warning.
    pub async fn approval_stream(
        &self,
        key: &DeviceKey,
    ) -> Result<impl Stream<Item = Result<ApprovalRequest, ApiError>>, ApiError> {
        let address = key.address();
        let path = routes::APPROVAL_STREAM;
        let first = {
            let token = self.session_token(key, &address).await?;
            self.http
                .open_stream(path, &token, STREAM_MAX_LIFETIME)
                .await
        };
        let resp = match first {
            Err(e) if is_stale_token(&e) => {
                self.forget().await;
                let token = self.session_token(key, &address).await?;
                self.http
                    .open_stream(path, &token, STREAM_MAX_LIFETIME)
                    .await?
            }
            other => other?,
        };
        let state = StreamState {
            resp,
            parser: SseParser::default(),
            me: address,
            done: false,
        };
        Ok(futures::stream::unfold(state, |mut st| async move {
            if st.done {
                return None;
            }
            let item = st.next().await;
            if item.as_ref().is_none_or(|r| r.is_err()) {
                st.done = true;
            }
            item.map(|r| (r, st))
        }))
    }
}

struct StreamState {
    resp: reqwest::Response,
    parser: SseParser,
    me: agentkeys_core::identity::Address,
    done: bool,
}

impl StreamState {
    /// The next valid request, `None` at the end, or the error that ends the stream.
    async fn next(&mut self) -> Option<Result<ApprovalRequest, ApiError>> {
        loop {
            while let Some(ev) = self.parser.next_event() {
                let ev = match ev {
                    Ok(ev) => ev,
                    Err(e) => return Some(Err(e)),
                };
                if ev.event != SSE_EVENT {
                    continue;
                }
                match self.accept(&ev.data) {
                    Ok(r) => return Some(Ok(r)),
                    Err(e) => {
                        tracing::warn!(error = %e, "skipping an approval request that does not validate");
                    }
                }
            }
            let chunk = match tokio::time::timeout(STREAM_IDLE_TIMEOUT, self.resp.chunk()).await {
                Err(_) => {
                    return Some(Err(ApiError::new(
                        ErrorCode::RelayUnreachable,
                        format!(
                            "the approval stream was silent for {} s",
                            STREAM_IDLE_TIMEOUT.as_secs()
                        ),
                    )))
                }
                Ok(Err(e)) => {
                    return Some(Err(ApiError::new(
                        ErrorCode::RelayUnreachable,
                        format!("the approval stream broke: {e}"),
                    )))
                }
                Ok(Ok(None)) => return None,
                Ok(Ok(Some(chunk))) => chunk,
            };
            self.parser.push(&chunk);
        }
    }

    fn accept(&self, data: &str) -> Result<ApprovalRequest, ApiError> {
        let r: ApprovalRequest = serde_json::from_str(data).map_err(|_| {
            ApiError::new(
                ErrorCode::RelayProtocol,
                "an approval event is not an approval request",
            )
        })?;
        if r.approver != self.me {
            return Err(ApiError::new(
                ErrorCode::ApprovalNotYours,
                "the relay sent a request addressed to another device",
            ));
        }
        r.validate(now_secs())?;
        // validate bounds the lifetime by issued_at; bound it by our clock too, so a request
        // stamped ahead cannot stay on screen for longer than a ceremony.
        if r.expires_at > now_secs().saturating_add(MAX_TTL_SECS) {
            return Err(ApiError::new(
                ErrorCode::ApprovalInvalid,
                "the request expires too far in the future",
            ));
        }
        Ok(r)
    }
}

#[derive(Debug, PartialEq, Eq)]
pub(crate) struct SseEvent {
    pub(crate) event: String,
    pub(crate) data: String,
}

/// Incremental text/event-stream parsing (the subset the relay sends: `event:`, `data:`,
/// comments), with every buffer bounded by [`MAX_EVENT_BYTES`].
#[derive(Default)]
pub(crate) struct SseParser {
    buf: Vec<u8>,
    event: String,
    data: String,
    has_data: bool,
    failed: bool,
}

fn too_large() -> ApiError {
    ApiError::new(
        ErrorCode::RelayProtocol,
        format!("an approval event is larger than {MAX_EVENT_BYTES} bytes"),
    )
}

impl SseParser {
    /// Appends a chunk; [`Self::next_event`] drains whole lines and refuses an unfinished line
    /// longer than an event may be, so the buffer stays within one event and one chunk.
    pub(crate) fn push(&mut self, chunk: &Bytes) {
        if !self.failed {
            self.buf.extend_from_slice(chunk);
        }
    }

    /// The next complete event in the buffer, if any.
    pub(crate) fn next_event(&mut self) -> Option<Result<SseEvent, ApiError>> {
        if self.failed {
            return None;
        }
        while let Some(pos) = self.buf.iter().position(|&b| b == b'\n') {
            let mut line: Vec<u8> = self.buf.drain(..=pos).collect();
            line.pop();
            if line.last() == Some(&b'\r') {
                line.pop();
            }
            if line.is_empty() {
                let event = std::mem::take(&mut self.event);
                let data = std::mem::take(&mut self.data);
                if std::mem::take(&mut self.has_data) {
                    let event = if event.is_empty() {
                        "message".to_string()
                    } else {
                        event
                    };
                    return Some(Ok(SseEvent { event, data }));
                }
                continue;
            }
            let Ok(line) = String::from_utf8(line) else {
                self.failed = true;
                return Some(Err(ApiError::new(
                    ErrorCode::RelayProtocol,
                    "the approval stream is not UTF-8",
                )));
            };
            let (field, value) = line.split_once(':').unwrap_or((line.as_str(), ""));
            let value = value.strip_prefix(' ').unwrap_or(value);
            match field {
                "" => {} // a comment: the relay's keep-alive
                "event" => self.event = value.to_string(),
                "data" => {
                    if self.has_data {
                        self.data.push('\n');
                    }
                    self.data.push_str(value);
                    self.has_data = true;
                }
                _ => {}
            }
            if self.data.len() + self.event.len() > MAX_EVENT_BYTES {
                self.failed = true;
                return Some(Err(too_large()));
            }
        }
        if self.buf.len() > MAX_EVENT_BYTES {
            self.failed = true;
            return Some(Err(too_large()));
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn events(parser: &mut SseParser) -> Vec<SseEvent> {
        let mut out = Vec::new();
        while let Some(ev) = parser.next_event() {
            out.push(ev.unwrap());
        }
        out
    }

    #[test]
    fn approvals_sse_parsing_across_chunks() {
        let mut p = SseParser::default();
        p.push(&Bytes::from_static(b":\n\nevent: appr"));
        assert!(events(&mut p).is_empty());
        p.push(&Bytes::from_static(b"oval\r\ndata: {\"a\":\n"));
        p.push(&Bytes::from_static(b"data: 1}\n\ndata:x\n\n"));
        assert_eq!(
            events(&mut p),
            vec![
                SseEvent {
                    event: "approval".into(),
                    data: "{\"a\":\n1}".into()
                },
                SseEvent {
                    event: "message".into(),
                    data: "x".into()
                },
            ]
        );
    }

    #[test]
    fn approvals_sse_events_are_bounded() {
        let mut p = SseParser::default();
        let big = Bytes::from(vec![b'a'; MAX_EVENT_BYTES + 10]);
        p.push(&big);
        assert_eq!(
            p.next_event().unwrap().unwrap_err().code,
            ErrorCode::RelayProtocol
        );

        let mut p = SseParser::default();
        let line = Bytes::from(format!("data: {}\n", "b".repeat(40 * 1024)));
        p.push(&line);
        assert!(p.next_event().is_none());
        p.push(&line);
        assert_eq!(
            p.next_event().unwrap().unwrap_err().code,
            ErrorCode::RelayProtocol
        );
        assert!(p.next_event().is_none(), "a failed parser stays failed");
    }

    #[test]
    fn approvals_ids_are_checked_before_paths() {
        assert_eq!(
            request_path("../../v1/x", "").unwrap_err().code,
            ErrorCode::ApprovalInvalid
        );
        assert_eq!(
            request_path("AAAAAAAAAAAAAAAAAAAAAA", "/answer").unwrap(),
            "/v1/approvals/AAAAAAAAAAAAAAAAAAAAAA/answer"
        );
    }
}
