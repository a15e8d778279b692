//! The AWS shared configuration files in the S3 credential chain: the profile `AWS_PROFILE`
//! (else `default`) of the credentials file (`AWS_SHARED_CREDENTIALS_FILE`, else
//! `~/.aws/credentials`) and of the config file (`AWS_CONFIG_FILE`, else `~/.aws/config`,
//! sections `[profile NAME]` or `[default]`). object_store's `AmazonS3Builder::from_env` reads
//! only `AWS_*` variables, so `storage::cold` applies what this module finds below them.
//!
//! Read keys: `aws_access_key_id`, `aws_secret_access_key`, `aws_session_token` (the
//! credentials file wins over the config file), `region` and `endpoint_url`. Profiles that
//! get credentials elsewhere (`role_arn`, `sso_*`, `credential_process`) are not followed:
//! their static keys are absent, so the rest of the chain (web identity, ECS, EC2) applies.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// What one profile of the shared files sets.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Profile {
    pub access_key_id: Option<String>,
    pub secret_access_key: Option<String>,
    pub session_token: Option<String>,
    pub region: Option<String>,
    pub endpoint_url: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot read AWS shared config file {path}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("AWS_PROFILE={profile}: no such profile in {files}")]
    NoSuchProfile { profile: String, files: String },
    #[error(
        "AWS profile {profile}: aws_access_key_id and aws_secret_access_key must be set together"
    )]
    HalfKey { profile: String },
}

/// The profile named by the process environment, from the files it names; `Ok(None)` when
/// neither file has it and `AWS_PROFILE` is unset (no shared files in use).
pub fn from_env() -> Result<Option<Profile>, Error> {
    let var = |k: &str| std::env::var(k).ok().filter(|v| !v.trim().is_empty());
    let home = var("HOME").map(PathBuf::from);
    let default_path = |name: &str| home.as_ref().map(|h| h.join(".aws").join(name));
    let credentials = var("AWS_SHARED_CREDENTIALS_FILE")
        .map(PathBuf::from)
        .or_else(|| default_path("credentials"));
    let config = var("AWS_CONFIG_FILE")
        .map(PathBuf::from)
        .or_else(|| default_path("config"));
    let explicit = var("AWS_PROFILE");
    let name = explicit.clone().unwrap_or_else(|| "default".to_string());
    let credentials_text = read_optional(credentials.as_deref())?;
    let config_text = read_optional(config.as_deref())?;
    let profile = resolve(&name, credentials_text.as_deref(), config_text.as_deref())?;
    if profile.is_none() && explicit.is_some() {
        let files = [credentials, config]
            .iter()
            .flatten()
            .map(|p| p.display().to_string())
            .collect::<Vec<_>>()
            .join(" and ");
        return Err(Error::NoSuchProfile {
            profile: name,
            files,
        });
    }
    Ok(profile)
}

/// The file's text, `None` when there is no such file.
fn read_optional(path: Option<&Path>) -> Result<Option<String>, Error> {
    let Some(path) = path else { return Ok(None) };
    match std::fs::read_to_string(path) {
        Ok(s) => Ok(Some(s)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(Error::Read {
            path: path.to_path_buf(),
            source,
        }),
    }
}

/// Profile `name` from the two files' texts (the credentials file's keys win); `None` when
/// neither has a section for it.
pub fn resolve(
    name: &str,
    credentials: Option<&str>,
    config: Option<&str>,
) -> Result<Option<Profile>, Error> {
    let from_credentials = credentials.and_then(|t| parse_ini(t).remove(name));
    let config_section = if name == "default" {
        "default".to_string()
    } else {
        format!("profile {name}")
    };
    let from_config = config.and_then(|t| parse_ini(t).remove(&config_section));
    if from_credentials.is_none() && from_config.is_none() {
        return Ok(None);
    }
    let mut keys = from_config.unwrap_or_default();
    keys.extend(from_credentials.unwrap_or_default());
    let mut take = |k: &str| keys.remove(k).filter(|v| !v.is_empty());
    let profile = Profile {
        access_key_id: take("aws_access_key_id"),
        secret_access_key: take("aws_secret_access_key"),
        session_token: take("aws_session_token"),
        region: take("region"),
        endpoint_url: take("endpoint_url"),
    };
    if profile.access_key_id.is_some() != profile.secret_access_key.is_some() {
        return Err(Error::HalfKey {
            profile: name.to_string(),
        });
    }
    Ok(Some(profile))
}

/// Sections of an AWS INI file: `[name]` headers, `key = value` lines, `#`/`;` comments.
/// Indented lines (the sub-settings of a key such as `s3 =`) are skipped.
fn parse_ini(text: &str) -> BTreeMap<String, BTreeMap<String, String>> {
    let mut sections: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
    let mut current: Option<String> = None;
    for line in text.lines() {
        if line.starts_with([' ', '\t']) {
            continue;
        }
        let line = line.trim();
        if line.is_empty() || line.starts_with(['#', ';']) {
            continue;
        }
        if let Some(header) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            let name = header.split_whitespace().collect::<Vec<_>>().join(" ");
            sections.entry(name.clone()).or_default();
            current = Some(name);
        } else if let (Some(section), Some((k, v))) = (&current, line.split_once('=')) {
            sections
                .entry(section.clone())
                .or_default()
                .insert(k.trim().to_ascii_lowercase(), v.trim().to_string());
        }
    }
    sections
}

#[cfg(test)]
mod tests {
    use super::*;

    const CREDENTIALS: &str = "\
[default]
aws_access_key_id = AKIDDEFAULT
aws_secret_access_key = secret-default

# the CI profile
[ci]
aws_access_key_id=AKIDCI
aws_secret_access_key=secret-ci
aws_session_token = token-ci
";
    const CONFIG: &str = "\
[default]
region = eu-west-1

[profile ci]
region = us-east-2
aws_access_key_id = AKIDFROMCONFIG
s3 =
  endpoint_url = http://ignored
endpoint_url = http://127.0.0.1:9000

[profile keys-in-config]
aws_access_key_id = AKIDCONFIG
aws_secret_access_key = secret-config

[profile half]
aws_access_key_id = AKIDHALF
";

    #[test]
    fn a_profile_joins_both_files_and_the_credentials_file_wins() {
        let ci = resolve("ci", Some(CREDENTIALS), Some(CONFIG))
            .unwrap()
            .unwrap();
        assert_eq!(
            ci,
            Profile {
                access_key_id: Some("AKIDCI".into()),
                secret_access_key: Some("secret-ci".into()),
                session_token: Some("token-ci".into()),
                region: Some("us-east-2".into()),
                endpoint_url: Some("http://127.0.0.1:9000".into()),
            }
        );
        let default = resolve("default", Some(CREDENTIALS), Some(CONFIG))
            .unwrap()
            .unwrap();
        assert_eq!(default.access_key_id.as_deref(), Some("AKIDDEFAULT"));
        assert_eq!(default.region.as_deref(), Some("eu-west-1"));
        // Keys in the config file alone count too.
        let cfg = resolve("keys-in-config", None, Some(CONFIG))
            .unwrap()
            .unwrap();
        assert_eq!(cfg.secret_access_key.as_deref(), Some("secret-config"));
    }

    #[test]
    fn missing_profiles_and_half_keys_are_told_apart() {
        assert_eq!(
            resolve("nope", Some(CREDENTIALS), Some(CONFIG)).unwrap(),
            None
        );
        assert_eq!(resolve("default", None, None).unwrap(), None);
        // `[ci]` in the config file is not `[profile ci]`.
        assert_eq!(
            resolve("ci", None, Some("[ci]\nregion = x\n")).unwrap(),
            None
        );
        assert!(matches!(
            resolve("half", None, Some(CONFIG)),
            Err(Error::HalfKey { .. })
        ));
    }
}
