//! One HTTP/1.1 request over an already connected stream (the daemon's Unix socket, or TCP to
//! the local relay for health checks).

use bytes::Bytes;
use http::{header, Method, Request};
use http_body_util::{BodyExt, Full, Limited};
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite};
use zeroize::Zeroizing;

pub struct Reply {
    pub status: u16,
    /// Wiped on drop: answers carry secret values.
    pub body: Zeroizing<Vec<u8>>,
}

pub async fn exchange<IO>(
    io: IO,
    method: Method,
    host: &str,
    path: &str,
    body: Bytes,
    headers: &[(&str, &str)],
    limit: usize,
) -> Result<Reply, String>
where
    IO: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(io))
        .await
        .map_err(|e| e.to_string())?;
    // The connection task ends by itself once `sender` is dropped.
    tokio::spawn(conn);
    let mut req = Request::builder()
        .method(method)
        .uri(path)
        .header(header::HOST, host)
        .header(header::CONTENT_TYPE, "application/json");
    for (name, value) in headers {
        req = req.header(*name, *value);
    }
    let req = req.body(Full::new(body)).map_err(|e| e.to_string())?;
    let resp = sender.send_request(req).await.map_err(|e| e.to_string())?;
    let status = resp.status().as_u16();
    let collected = Limited::new(resp.into_body(), limit)
        .collect()
        .await
        .map_err(|e| format!("reading the answer failed: {e}"))?;
    Ok(Reply {
        status,
        body: Zeroizing::new(collected.to_bytes().to_vec()),
    })
}
