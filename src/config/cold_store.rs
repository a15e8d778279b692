//! Cold store settings: `WAYLOG_COLD_STORE` (a path, a `file://` URL or `s3://bucket/prefix`)
//! and the `WAYLOG_S3_*` overrides of an S3 or S3-compatible store. Parsing only; the store is
//! opened by `storage::cold`.
//!
//! S3 credentials, region and endpoint come from the standard AWS environment first
//! (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`, `AWS_REGION`,
//! `AWS_ENDPOINT_URL`, web identity, ECS and EC2 instance credentials); a `WAYLOG_S3_*`
//! setting overrides its AWS counterpart.

use clap::Args;

/// Raw S3 flags and variables, shared by `waylog serve` and `waylog query --data-dir`.
#[derive(Debug, Clone, Default, Args)]
pub struct S3Args {
    /// S3 endpoint URL (an S3-compatible server); default: AWS for the region.
    #[arg(long, env = "WAYLOG_S3_ENDPOINT")]
    pub s3_endpoint: Option<String>,
    /// S3 region (else `AWS_REGION` / `AWS_DEFAULT_REGION`, else us-east-1).
    #[arg(long, env = "WAYLOG_S3_REGION")]
    pub s3_region: Option<String>,
    /// Allow a plain-HTTP (`http://`) endpoint.
    #[arg(long, env = "WAYLOG_S3_ALLOW_HTTP", default_value = "false")]
    pub s3_allow_http: String,
    /// Path-style requests (`endpoint/bucket/key`); `false`: virtual-hosted style
    /// (`bucket.endpoint/key`).
    #[arg(long, env = "WAYLOG_S3_PATH_STYLE", default_value = "true")]
    pub s3_path_style: String,
    /// Access key id (else the AWS credential chain).
    #[arg(long, env = "WAYLOG_S3_ACCESS_KEY_ID", hide_env_values = true)]
    pub s3_access_key_id: Option<String>,
    /// Secret access key (with `WAYLOG_S3_ACCESS_KEY_ID`).
    #[arg(long, env = "WAYLOG_S3_SECRET_ACCESS_KEY", hide_env_values = true)]
    pub s3_secret_access_key: Option<String>,
    /// Session token of temporary credentials.
    #[arg(long, env = "WAYLOG_S3_SESSION_TOKEN", hide_env_values = true)]
    pub s3_session_token: Option<String>,
}

/// Validated S3 overrides (unset fields fall back to the AWS environment).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct S3Settings {
    pub endpoint: Option<String>,
    pub region: Option<String>,
    pub allow_http: bool,
    pub path_style: bool,
    pub access_key_id: Option<String>,
    pub secret_access_key: Option<String>,
    pub session_token: Option<String>,
}

impl S3Args {
    /// Validate: an `http://` endpoint needs `WAYLOG_S3_ALLOW_HTTP=true`; a key id and a
    /// secret come together.
    pub fn into_settings(self) -> Result<S3Settings, String> {
        let nonempty =
            |v: Option<String>| v.map(|s| s.trim().to_string()).filter(|s| !s.is_empty());
        let allow_http = super::parse_bool("WAYLOG_S3_ALLOW_HTTP", &self.s3_allow_http)?;
        let path_style = super::parse_bool("WAYLOG_S3_PATH_STYLE", &self.s3_path_style)?;
        let endpoint = nonempty(self.s3_endpoint);
        if let Some(e) = &endpoint {
            if !(e.starts_with("http://") || e.starts_with("https://")) {
                return Err(format!(
                    "WAYLOG_S3_ENDPOINT: expected an http:// or https:// URL, got {e:?}"
                ));
            }
            if e.starts_with("http://") && !allow_http {
                return Err(format!(
                    "WAYLOG_S3_ENDPOINT: {e:?} is plain HTTP; set WAYLOG_S3_ALLOW_HTTP=true to allow it"
                ));
            }
        }
        let access_key_id = nonempty(self.s3_access_key_id);
        let secret_access_key = nonempty(self.s3_secret_access_key);
        if access_key_id.is_some() != secret_access_key.is_some() {
            return Err(
                "WAYLOG_S3_ACCESS_KEY_ID and WAYLOG_S3_SECRET_ACCESS_KEY: set both or neither"
                    .to_string(),
            );
        }
        Ok(S3Settings {
            endpoint,
            region: nonempty(self.s3_region),
            allow_http,
            path_style,
            access_key_id,
            secret_access_key,
            session_token: nonempty(self.s3_session_token),
        })
    }
}

/// Where the cold store lives, from `WAYLOG_COLD_STORE`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ColdLocation<'a> {
    /// A local directory (a path or a `file://` URL).
    Local(&'a str),
    /// `s3://bucket/prefix`: the bucket and the key prefix (may be empty, no slashes at the
    /// ends).
    S3 { bucket: &'a str, prefix: &'a str },
}

/// Parse a `WAYLOG_COLD_STORE` value; other URL schemes are refused with a message naming the
/// accepted forms.
pub fn parse_cold_location(s: &str) -> Result<ColdLocation<'_>, String> {
    if let Some(rest) = s.strip_prefix("s3://") {
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        if bucket.is_empty() {
            return Err(format!("WAYLOG_COLD_STORE: {s:?} names no bucket"));
        }
        return Ok(ColdLocation::S3 {
            bucket,
            prefix: prefix.trim_matches('/'),
        });
    }
    if let Some(path) = s.strip_prefix("file://") {
        return Ok(ColdLocation::Local(path));
    }
    if s.contains("://") {
        return Err(format!(
            "WAYLOG_COLD_STORE: unsupported store {s:?}: expected a path, a file:// URL or s3://bucket/prefix"
        ));
    }
    Ok(ColdLocation::Local(s))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cold_locations_parse_and_other_schemes_are_refused() {
        assert_eq!(
            parse_cold_location("s3://logs/waylog/prod/"),
            Ok(ColdLocation::S3 {
                bucket: "logs",
                prefix: "waylog/prod"
            })
        );
        assert_eq!(
            parse_cold_location("s3://logs"),
            Ok(ColdLocation::S3 {
                bucket: "logs",
                prefix: ""
            })
        );
        assert_eq!(
            parse_cold_location("file:///var/cold"),
            Ok(ColdLocation::Local("/var/cold"))
        );
        assert_eq!(parse_cold_location("cold"), Ok(ColdLocation::Local("cold")));
        assert!(parse_cold_location("s3:///x").is_err());
        assert!(
            parse_cold_location("gs://b/p")
                .unwrap_err()
                .contains("s3://bucket/prefix")
        );
    }

    #[test]
    fn plain_http_endpoints_need_the_explicit_allowance() {
        let args = |endpoint: &str, allow: &str| S3Args {
            s3_endpoint: Some(endpoint.to_string()),
            s3_allow_http: allow.to_string(),
            s3_path_style: "true".to_string(),
            ..S3Args::default()
        };
        assert!(
            args("http://127.0.0.1:9000", "false")
                .into_settings()
                .unwrap_err()
                .contains("WAYLOG_S3_ALLOW_HTTP")
        );
        let s = args("http://127.0.0.1:9000", "true")
            .into_settings()
            .unwrap();
        assert!(s.allow_http && s.path_style);
        assert!(args("https://s3.example", "false").into_settings().is_ok());
        assert!(args("ftp://x", "true").into_settings().is_err());
        let half = S3Args {
            s3_access_key_id: Some("k".into()),
            s3_allow_http: "false".into(),
            s3_path_style: "true".into(),
            ..S3Args::default()
        };
        assert!(half.into_settings().is_err());
    }
}
