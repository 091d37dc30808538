//! `moto_server` on 127.0.0.1 as the S3 endpoint for wire-compatibility tests. A missing
//! moto_server fails the test (it is installed by `.ci/run` and the README's test command).

use crate::process::{wait_until, Managed};
use std::process::{Command, Stdio};
use std::time::Duration;

pub struct Moto {
    pub url: String,
    _proc: Managed,
}

impl Moto {
    pub fn start() -> Moto {
        let port = crate::free_port();
        let child = Command::new("moto_server")
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("moto_server must be installed (pip install 'moto[server]'); see README");
        let proc = Managed::new("moto_server", child);
        let url = format!("http://127.0.0.1:{port}");
        let ok = wait_until(Duration::from_secs(30), || {
            std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
        });
        assert!(ok, "moto_server did not start on port {port}");
        Moto { url, _proc: proc }
    }

    pub async fn s3(&self) -> aws_sdk_s3::Client {
        let creds = aws_credential_types::Credentials::new("test", "test", None, None, "tests");
        let conf = aws_sdk_s3::config::Builder::new()
            .behavior_version(aws_sdk_s3::config::BehaviorVersion::latest())
            .region(aws_sdk_s3::config::Region::new("us-east-1"))
            .credentials_provider(creds)
            .endpoint_url(&self.url)
            .force_path_style(true)
            .build();
        aws_sdk_s3::Client::from_conf(conf)
    }
}
