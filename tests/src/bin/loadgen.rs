//! Load generator for the relay's fetch path: signs in like a daemon, stores one secret, then
//! runs N concurrent workers that each fetch it with a fresh proof of possession per request
//! (capabilities are reused within their lifetime, as the daemon does). Bounded by a request
//! count and a deadline; targets loopback only.
//!
//! `agentkeys-loadgen --url http://127.0.0.1:8787 --concurrency 16 --requests 20000`

use agentkeys_core::names::{DataClass, Op};
use agentkeys_core::wire::NameRequest;
use agentkeys_tests::relay_client::{Pop, RelayClient};
use clap::Parser;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

#[derive(Parser)]
struct Args {
    /// Relay URL (loopback).
    #[arg(long)]
    url: String,
    #[arg(long, default_value_t = 16)]
    concurrency: usize,
    /// Total fetches across all workers.
    #[arg(long, default_value_t = 20_000)]
    requests: u64,
    /// Hard stop after this many seconds.
    #[arg(long, default_value_t = 120)]
    max_seconds: u64,
}

#[tokio::main]
async fn main() {
    let args = Args::parse();
    let host = args
        .url
        .trim_start_matches("http://")
        .split(':')
        .next()
        .unwrap_or("");
    if !(host == "127.0.0.1" || host == "localhost" || host == "[::1]") {
        eprintln!(
            "agentkeys-loadgen: refusing a non-loopback target {}",
            args.url
        );
        std::process::exit(2);
    }
    let mut client = RelayClient::new(&args.url);
    client.sign_in().await;
    let (status, v) = client
        .store(DataClass::Credentials, "loadgen", b"sk-loadgen-value")
        .await;
    if status != 200 {
        eprintln!("agentkeys-loadgen: store failed: {v}");
        std::process::exit(1);
    }
    let client = Arc::new(client);
    let issued = Arc::new(AtomicU64::new(0));
    let errors = Arc::new(AtomicU64::new(0));
    let deadline = Instant::now() + Duration::from_secs(args.max_seconds);
    let body = serde_json::to_vec(&NameRequest {
        name: "loadgen".into(),
    })
    .unwrap_or_default();
    let started = Instant::now();
    let mut workers = Vec::new();
    for _ in 0..args.concurrency {
        let (client, issued, errors, body) =
            (client.clone(), issued.clone(), errors.clone(), body.clone());
        let total = args.requests;
        workers.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut cap = client
                .cap(DataClass::Credentials, Op::Fetch, "loadgen")
                .await;
            let mut cap_at = Instant::now();
            while issued.fetch_add(1, Ordering::Relaxed) < total && Instant::now() < deadline {
                if cap_at.elapsed() > Duration::from_secs(240) {
                    cap = client
                        .cap(DataClass::Credentials, Op::Fetch, "loadgen")
                        .await;
                    cap_at = Instant::now();
                }
                let t = Instant::now();
                let (status, _) = client
                    .vault(
                        DataClass::Credentials,
                        Op::Fetch,
                        Some(&cap),
                        body.clone(),
                        Pop::Valid,
                    )
                    .await;
                latencies.push(t.elapsed());
                if status != 200 {
                    errors.fetch_add(1, Ordering::Relaxed);
                }
            }
            latencies
        }));
    }
    let mut all = Vec::new();
    for w in workers {
        all.extend(w.await.unwrap_or_default());
    }
    let elapsed = started.elapsed();
    all.sort();
    let pct = |p: f64| {
        all.get(((all.len() as f64 * p) as usize).min(all.len().saturating_sub(1)))
            .copied()
            .unwrap_or_default()
    };
    println!(
        "fetches={} errors={} concurrency={} seconds={:.2} throughput={:.0}/s p50={:.2}ms p99={:.2}ms",
        all.len(),
        errors.load(Ordering::Relaxed),
        args.concurrency,
        elapsed.as_secs_f64(),
        all.len() as f64 / elapsed.as_secs_f64(),
        pct(0.50).as_secs_f64() * 1e3,
        pct(0.99).as_secs_f64() * 1e3,
    );
}
