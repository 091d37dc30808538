//! Cloud settings of the broker's STS minting: the token service to call and the role of each
//! data class (`AssumeRoleWithWebIdentity` trusts the broker's OIDC issuer).

use super::{BootFail, FileConfig};

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CloudConfig {
    /// STS endpoint; `None` for AWS itself (regional endpoint of `sts_region`).
    pub sts_endpoint: Option<String>,
    pub sts_region: String,
    /// Role ARN assumed for the credentials class, and for the memory class.
    pub role_credentials: Option<String>,
    pub role_memory: Option<String>,
}

pub const ENV_VARS: &[(&str, &str)] = &[
    (
        "AGENTKEYS_STS_ENDPOINT",
        "STS endpoint for mint-aws-creds (omit for AWS)",
    ),
    ("AGENTKEYS_STS_REGION", "STS region (default us-east-1)"),
    (
        "AGENTKEYS_AWS_ROLE_CREDENTIALS",
        "role ARN assumed for the credentials class",
    ),
    (
        "AGENTKEYS_AWS_ROLE_MEMORY",
        "role ARN assumed for the memory class",
    ),
];

fn role(setting: &str, v: Option<String>) -> Result<Option<String>, BootFail> {
    match v {
        None => Ok(None),
        Some(arn) if arn.starts_with("arn:") && arn.contains(":role/") && arn.len() <= 2048 => {
            Ok(Some(arn))
        }
        Some(arn) => Err(BootFail::new(
            setting,
            format!("'{arn}' is not a role ARN (arn:aws:iam::<account>:role/<name>)"),
        )),
    }
}

pub(super) fn resolve(
    file: &FileConfig,
    env: &impl Fn(&str) -> Option<String>,
) -> Result<CloudConfig, BootFail> {
    let pick = |var: &str, f: &Option<String>| env(var).or_else(|| f.clone());
    let sts_endpoint = pick("AGENTKEYS_STS_ENDPOINT", &file.sts_endpoint);
    if let Some(url) = &sts_endpoint {
        if !(url.starts_with("http://") || url.starts_with("https://")) {
            return Err(BootFail::new(
                "sts_endpoint",
                format!("'{url}' is not an http(s) URL"),
            ));
        }
    }
    Ok(CloudConfig {
        sts_endpoint,
        sts_region: pick("AGENTKEYS_STS_REGION", &file.sts_region)
            .unwrap_or_else(|| "us-east-1".into()),
        role_credentials: role(
            "aws_role_credentials",
            pick("AGENTKEYS_AWS_ROLE_CREDENTIALS", &file.aws_role_credentials),
        )?,
        role_memory: role(
            "aws_role_memory",
            pick("AGENTKEYS_AWS_ROLE_MEMORY", &file.aws_role_memory),
        )?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_must_be_role_arns() {
        let file = FileConfig {
            aws_role_credentials: Some("arn:aws:iam::123456789012:role/agentkeys-cred".into()),
            ..Default::default()
        };
        let none = |_: &str| None;
        let c = resolve(&file, &none).unwrap();
        assert_eq!(c.sts_region, "us-east-1");
        assert!(c.role_credentials.is_some() && c.role_memory.is_none());
        let bad = |v: &str| (v == "AGENTKEYS_AWS_ROLE_MEMORY").then(|| "my-role".to_string());
        assert_eq!(resolve(&file, &bad).unwrap_err().setting, "aws_role_memory");
        let url = |v: &str| (v == "AGENTKEYS_STS_ENDPOINT").then(|| "ftp://x".to_string());
        assert_eq!(resolve(&file, &url).unwrap_err().setting, "sts_endpoint");
    }
}
