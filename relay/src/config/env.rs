//! Merging of file settings, `AGENTKEYS_*` variables and flags, with validation.

use super::{
    BootFail, FileConfig, Overrides, RelayConfig, Role, S3Credentials, StorageConfig, StorageMode,
};
use std::net::SocketAddr;
use std::path::PathBuf;

/// Every environment variable the relay reads, for `--help` and the docs.
pub const ENV_VARS: &[(&str, &str)] = &[
    (
        "AGENTKEYS_LISTEN",
        "address to listen on (default 127.0.0.1:8787)",
    ),
    (
        "AGENTKEYS_DATA_DIR",
        "directory for keys, the audit log and embedded objects",
    ),
    (
        "AGENTKEYS_ROLES",
        "comma-separated subset of broker,signer,vault,audit (default all)",
    ),
    (
        "AGENTKEYS_PUBLIC_URL",
        "URL clients use; the broker's issuer and SIWE domain",
    ),
    (
        "AGENTKEYS_VAULT_AUDIENCE",
        "capability audience (default agentkeys-vault)",
    ),
    (
        "AGENTKEYS_CHAIN_ID",
        "chain id bound into SIWE sign-in (default 31337)",
    ),
    ("AGENTKEYS_STORAGE", "embedded (default) or s3"),
    (
        "AGENTKEYS_S3_ENDPOINT",
        "S3 endpoint URL (s3 mode; omit for AWS)",
    ),
    ("AGENTKEYS_S3_REGION", "S3 region (default us-east-1)"),
    (
        "AGENTKEYS_S3_ACCESS_KEY_ID",
        "static S3 access key (else the AWS default chain)",
    ),
    ("AGENTKEYS_S3_SECRET_ACCESS_KEY", "static S3 secret key"),
    (
        "AGENTKEYS_S3_FORCE_PATH_STYLE",
        "true for MinIO/moto style endpoints",
    ),
    (
        "AGENTKEYS_S3_CREATE_BUCKETS",
        "create missing buckets at boot",
    ),
    (
        "AGENTKEYS_CREDENTIALS_BUCKET",
        "bucket of the credentials class",
    ),
    ("AGENTKEYS_MEMORY_BUCKET", "bucket of the memory class"),
    (
        "AGENTKEYS_BROKER_URL",
        "broker to fetch JWKS from when the vault runs without it",
    ),
    (
        "AGENTKEYS_SIGNER_URL",
        "signer to call when the vault runs without it",
    ),
    (
        "AGENTKEYS_AUDIT_URL",
        "audit relay to call when the vault runs without it",
    ),
    (
        "AGENTKEYS_REQUIRE_CALLER_CREDENTIALS",
        "true: the vault refuses requests without the caller's X-Aws-* credentials",
    ),
    (
        "AGENTKEYS_DIRECT_BACKEND",
        "true: the vault serves the direct backend's dek-wrap/dek-unwrap routes (default false)",
    ),
    (
        "AGENTKEYS_INTERNAL_TOKEN_FILE",
        "shared secret between split roles (0600 file)",
    ),
];

fn pick<T>(env: Option<T>, file: Option<T>) -> Option<T> {
    env.or(file)
}

fn parse_bool(setting: &str, v: &str) -> Result<bool, BootFail> {
    match v {
        "1" | "true" | "yes" => Ok(true),
        "0" | "false" | "no" => Ok(false),
        _ => Err(BootFail::new(
            setting,
            format!("expected true or false, got '{v}'"),
        )),
    }
}

pub(super) fn check_url(setting: &str, v: &str) -> Result<String, BootFail> {
    let ok = (v.starts_with("http://") || v.starts_with("https://"))
        && v.len() > 8
        && !v.contains(char::is_whitespace);
    if ok {
        Ok(v.trim_end_matches('/').to_string())
    } else {
        Err(BootFail::new(
            setting,
            format!("'{v}' is not an http(s) URL"),
        ))
    }
}

fn check_bucket(setting: &str, v: &str) -> Result<String, BootFail> {
    let ok = (3..=63).contains(&v.len())
        && v.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.')
        && v.as_bytes()[0].is_ascii_alphanumeric();
    if ok {
        Ok(v.to_string())
    } else {
        Err(BootFail::new(
            setting,
            format!("'{v}' is not a valid bucket name"),
        ))
    }
}

pub(super) fn resolve(
    file: FileConfig,
    flags: &Overrides,
    env: impl Fn(&str) -> Option<String>,
) -> Result<RelayConfig, BootFail> {
    let listen_text = flags
        .listen
        .clone()
        .or_else(|| pick(env("AGENTKEYS_LISTEN"), file.listen.clone()))
        .unwrap_or_else(|| "127.0.0.1:8787".to_string());
    let listen: SocketAddr = listen_text.parse().map_err(|_| {
        BootFail::new(
            "listen",
            format!("'{listen_text}' is not an IP:port address"),
        )
    })?;

    let data_dir = flags
        .data_dir
        .clone()
        .or_else(|| {
            pick(
                env("AGENTKEYS_DATA_DIR").map(PathBuf::from),
                file.data_dir.clone(),
            )
        })
        .ok_or_else(|| {
            BootFail::new("data_dir", "not set (use --data-dir or AGENTKEYS_DATA_DIR)")
        })?;

    let roles_list: Option<Vec<String>> = flags
        .roles
        .clone()
        .or_else(|| env("AGENTKEYS_ROLES"))
        .map(|s| s.split(',').map(|r| r.trim().to_string()).collect())
        .or(file.roles.clone());
    let roles = match roles_list {
        None => Role::ALL.to_vec(),
        Some(list) => {
            let mut roles = Vec::new();
            for r in list.iter().filter(|r| !r.is_empty()) {
                let role = Role::parse(r).ok_or_else(|| {
                    BootFail::new(
                        "roles",
                        format!("unknown role '{r}' (broker, signer, vault, audit)"),
                    )
                })?;
                if !roles.contains(&role) {
                    roles.push(role);
                }
            }
            if roles.is_empty() {
                return Err(BootFail::new("roles", "no role selected"));
            }
            roles
        }
    };

    let public_url = match pick(env("AGENTKEYS_PUBLIC_URL"), file.public_url.clone()) {
        Some(u) => Some(check_url("public_url", &u)?),
        None => None,
    };
    let vault_audience = pick(env("AGENTKEYS_VAULT_AUDIENCE"), file.vault_audience.clone())
        .unwrap_or_else(|| "agentkeys-vault".to_string());
    let chain_id = match env("AGENTKEYS_CHAIN_ID") {
        Some(v) => v
            .parse()
            .map_err(|_| BootFail::new("chain_id", format!("'{v}' is not a number")))?,
        None => file.chain_id.unwrap_or(31337),
    };

    let mode = match pick(env("AGENTKEYS_STORAGE"), file.storage.clone()).as_deref() {
        None | Some("embedded") => StorageMode::Embedded,
        Some("s3") => StorageMode::S3,
        Some(other) => {
            return Err(BootFail::new(
                "storage",
                format!("'{other}' is not embedded or s3"),
            ))
        }
    };
    let endpoint = match pick(env("AGENTKEYS_S3_ENDPOINT"), file.s3_endpoint.clone()) {
        Some(u) => Some(check_url("s3_endpoint", &u)?),
        None => None,
    };
    let key_id = pick(
        env("AGENTKEYS_S3_ACCESS_KEY_ID"),
        file.s3_access_key_id.clone(),
    );
    let secret = pick(
        env("AGENTKEYS_S3_SECRET_ACCESS_KEY"),
        file.s3_secret_access_key.clone(),
    );
    let credentials = match (key_id, secret) {
        (Some(access_key_id), Some(secret_access_key)) => Some(S3Credentials {
            access_key_id,
            secret_access_key,
        }),
        (None, None) => None,
        _ => {
            return Err(BootFail::new(
                "s3_access_key_id",
                "set both the access key id and the secret access key, or neither",
            ))
        }
    };
    let force_path_style = match env("AGENTKEYS_S3_FORCE_PATH_STYLE") {
        Some(v) => parse_bool("s3_force_path_style", &v)?,
        None => file.s3_force_path_style.unwrap_or(endpoint.is_some()),
    };
    let create_buckets = match env("AGENTKEYS_S3_CREATE_BUCKETS") {
        Some(v) => parse_bool("s3_create_buckets", &v)?,
        None => file
            .s3_create_buckets
            .unwrap_or(mode == StorageMode::Embedded),
    };
    let credentials_bucket = check_bucket(
        "credentials_bucket",
        &pick(
            env("AGENTKEYS_CREDENTIALS_BUCKET"),
            file.credentials_bucket.clone(),
        )
        .unwrap_or_else(|| "agentkeys-credentials".into()),
    )?;
    let memory_bucket = check_bucket(
        "memory_bucket",
        &pick(env("AGENTKEYS_MEMORY_BUCKET"), file.memory_bucket.clone())
            .unwrap_or_else(|| "agentkeys-memory".into()),
    )?;
    if credentials_bucket == memory_bucket {
        return Err(BootFail::new(
            "memory_bucket",
            "each data class needs its own bucket",
        ));
    }
    if mode == StorageMode::S3
        && endpoint.is_none()
        && credentials.is_none()
        && env("AWS_REGION").is_none()
    {
        // Plain AWS with the default credential chain is fine; nothing to check here.
    }

    let opt_url = |name: &str, var: &str, f: Option<String>| -> Result<Option<String>, BootFail> {
        match pick(env(var), f) {
            Some(u) => Ok(Some(check_url(name, &u)?)),
            None => Ok(None),
        }
    };
    let broker_url = opt_url(
        "broker_url",
        "AGENTKEYS_BROKER_URL",
        file.broker_url.clone(),
    )?;
    let signer_url = opt_url(
        "signer_url",
        "AGENTKEYS_SIGNER_URL",
        file.signer_url.clone(),
    )?;
    let audit_url = opt_url("audit_url", "AGENTKEYS_AUDIT_URL", file.audit_url.clone())?;
    let internal_token_file = pick(
        env("AGENTKEYS_INTERNAL_TOKEN_FILE").map(PathBuf::from),
        file.internal_token_file.clone(),
    );

    // Capabilities, sessions and secrets cross this socket: beyond loopback they need TLS,
    // which a proxy in front of the relay terminates; the public URL must say so.
    if !listen.ip().is_loopback()
        && !public_url
            .as_deref()
            .is_some_and(|u| u.starts_with("https://"))
    {
        return Err(BootFail::new(
            "public_url",
            format!("the relay listens on {listen}, beyond loopback, so public_url must be an https:// URL (terminate TLS in front of the relay)"),
        ));
    }

    let has = |r: Role| roles.contains(&r);
    if has(Role::Vault) {
        if !has(Role::Broker) && broker_url.is_none() {
            return Err(BootFail::new(
                "broker_url",
                "the vault runs without the broker role, so it needs the broker's URL for JWKS",
            ));
        }
        if !has(Role::Signer) && signer_url.is_none() {
            return Err(BootFail::new(
                "signer_url",
                "the vault runs without the signer role, so it needs the signer's URL",
            ));
        }
        if !has(Role::Audit) && audit_url.is_none() {
            return Err(BootFail::new(
                "audit_url",
                "the vault runs without the audit role, so it needs the audit relay's URL",
            ));
        }
    }
    let split = roles.len() < Role::ALL.len();
    if split
        && internal_token_file.is_none()
        && (has(Role::Signer) || has(Role::Audit) || has(Role::Vault))
    {
        return Err(BootFail::new(
            "internal_token_file",
            "roles run apart, so the signer and audit APIs need a shared token file",
        ));
    }

    let chain = super::chain::resolve(&file, &env, split)?;
    let cloud = super::cloud::resolve(&file, &env)?;
    let signin = super::signin::resolve(&file, &env)?;
    let sponsor = super::sponsor::resolve(&file, &env)?;
    let require_caller_credentials = match env("AGENTKEYS_REQUIRE_CALLER_CREDENTIALS").as_deref() {
        Some("true") => true,
        Some("false") => false,
        Some(v) => {
            return Err(BootFail::new(
                "require_caller_credentials",
                format!("'{v}' is not true or false"),
            ))
        }
        None => file.require_caller_credentials.unwrap_or(false),
    };

    let direct_backend = match env("AGENTKEYS_DIRECT_BACKEND") {
        Some(v) => parse_bool("direct_backend", &v)?,
        None => file.direct_backend.unwrap_or(false),
    };

    Ok(RelayConfig {
        chain,
        cloud,
        signin,
        sponsor,
        require_caller_credentials,
        direct_backend,
        listen,
        data_dir,
        roles,
        public_url,
        vault_audience,
        chain_id,
        storage: StorageConfig {
            mode,
            endpoint,
            region: pick(env("AGENTKEYS_S3_REGION"), file.s3_region.clone())
                .unwrap_or_else(|| "us-east-1".into()),
            credentials,
            force_path_style,
            create_buckets,
            credentials_bucket,
            memory_bucket,
        },
        broker_url,
        signer_url,
        audit_url,
        internal_token_file,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn run(vars: &[(&str, &str)]) -> Result<RelayConfig, BootFail> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        resolve(FileConfig::default(), &Overrides::default(), |k| {
            map.get(k).cloned()
        })
    }

    #[test]
    fn defaults_need_only_a_data_dir() {
        let c = run(&[("AGENTKEYS_DATA_DIR", "/var/lib/x")]).unwrap();
        assert_eq!(c.roles, Role::ALL.to_vec());
        assert_eq!(c.storage.mode, StorageMode::Embedded);
        assert_eq!(c.listen.to_string(), "127.0.0.1:8787");
    }

    #[test]
    fn the_direct_backend_is_off_unless_enabled() {
        assert!(!run(&[("AGENTKEYS_DATA_DIR", "/d")]).unwrap().direct_backend);
        let on = run(&[
            ("AGENTKEYS_DATA_DIR", "/d"),
            ("AGENTKEYS_DIRECT_BACKEND", "true"),
        ]);
        assert!(on.unwrap().direct_backend);
        let e = run(&[
            ("AGENTKEYS_DATA_DIR", "/d"),
            ("AGENTKEYS_DIRECT_BACKEND", "on"),
        ])
        .unwrap_err();
        assert_eq!(e.setting, "direct_backend");
    }

    #[test]
    fn refusals_name_the_setting() {
        let e = run(&[]).unwrap_err();
        assert_eq!(e.setting, "data_dir");
        let e = run(&[("AGENTKEYS_DATA_DIR", "/d"), ("AGENTKEYS_LISTEN", "nope")]).unwrap_err();
        assert_eq!(
            e.to_string(),
            "BOOT_FAIL: listen: 'nope' is not an IP:port address"
        );
        let e = run(&[
            ("AGENTKEYS_DATA_DIR", "/d"),
            ("AGENTKEYS_ROLES", "vault,cook"),
        ])
        .unwrap_err();
        assert_eq!(e.setting, "roles");
        let e = run(&[("AGENTKEYS_DATA_DIR", "/d"), ("AGENTKEYS_ROLES", "vault")]).unwrap_err();
        assert_eq!(e.setting, "broker_url");
        let e = run(&[
            ("AGENTKEYS_DATA_DIR", "/d"),
            ("AGENTKEYS_S3_ACCESS_KEY_ID", "k"),
        ])
        .unwrap_err();
        assert_eq!(e.setting, "s3_access_key_id");
        let e = run(&[
            ("AGENTKEYS_DATA_DIR", "/d"),
            ("AGENTKEYS_MEMORY_BUCKET", "agentkeys-credentials"),
        ])
        .unwrap_err();
        assert_eq!(e.setting, "memory_bucket");
        let e = run(&[
            ("AGENTKEYS_DATA_DIR", "/d"),
            ("AGENTKEYS_LISTEN", "0.0.0.0:8787"),
        ])
        .unwrap_err();
        assert_eq!(e.setting, "public_url");
        let ok = run(&[
            ("AGENTKEYS_DATA_DIR", "/d"),
            ("AGENTKEYS_LISTEN", "0.0.0.0:8787"),
            ("AGENTKEYS_PUBLIC_URL", "https://relay.example.com"),
        ]);
        assert!(ok.is_ok());
    }

    #[test]
    fn secrets_do_not_print() {
        let c = run(&[
            ("AGENTKEYS_DATA_DIR", "/d"),
            ("AGENTKEYS_S3_ACCESS_KEY_ID", "AKIDEXAMPLE"),
            (
                "AGENTKEYS_S3_SECRET_ACCESS_KEY",
                "wJalrXUtnFEMI-very-secret",
            ),
        ])
        .unwrap();
        assert!(!format!("{c:?}").contains("very-secret"));
    }
}
