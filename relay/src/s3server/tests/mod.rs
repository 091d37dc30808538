//! End-to-end tests: a real server on 127.0.0.1:0 in a temp dir, driven only through
//! `aws_sdk_s3::Client` with its default checksum behaviour.

mod access;
mod auth;
mod concurrency;
mod durability;
mod harness;
mod integrity;
mod keys;
mod listing;
mod roundtrip;
