//! The Ask provider settings (spec reads §6.5, §7.3): `WAYLOG_LLM_PROVIDER` (`none | gemini |
//! anthropic | openai`, case-insensitive; unset → the first vendor credential found), the model
//! and API base overrides, the Gemini tool mode and the Ask step limits. Parsing only; the
//! vendor credentials are read from their usual variables by clap like every other setting.

use clap::Args;

/// Raw LLM flags and variables.
#[derive(Debug, Clone, Args)]
pub struct LlmArgs {
    /// Ask provider: none, gemini, anthropic or openai (unset: inferred from a credential).
    #[arg(long, env = "WAYLOG_LLM_PROVIDER")]
    pub llm_provider: Option<String>,
    /// Model name (else the vendor's `*_MODEL`, else the built-in default).
    #[arg(long, env = "WAYLOG_LLM_MODEL")]
    pub llm_model: Option<String>,
    /// API base URL (else the vendor's `*_API_BASE`, else the vendor's public endpoint).
    #[arg(long, env = "WAYLOG_LLM_API_BASE")]
    pub llm_api_base: Option<String>,
    /// Gemini only: `native` function calling or `text` (default).
    #[arg(long, env = "WAYLOG_LLM_TOOL_MODE")]
    pub llm_tool_mode: Option<String>,
    /// Ask `max_steps` when the request names none.
    #[arg(long, env = "WAYLOG_ASK_MAX_STEPS_DEFAULT", default_value = "5")]
    pub ask_max_steps_default: String,
    /// Largest Ask `max_steps` (requests are clamped to it).
    #[arg(long, env = "WAYLOG_ASK_MAX_STEPS_MAX", default_value = "8")]
    pub ask_max_steps_max: String,
    #[arg(long, env = "GEMINI_API_KEY", hide = true, hide_env_values = true)]
    pub gemini_api_key: Option<String>,
    #[arg(long, env = "GOOGLE_API_KEY", hide = true, hide_env_values = true)]
    pub google_api_key: Option<String>,
    #[arg(long, env = "ANTHROPIC_API_KEY", hide = true, hide_env_values = true)]
    pub anthropic_api_key: Option<String>,
    #[arg(long, env = "OPENAI_API_KEY", hide = true, hide_env_values = true)]
    pub openai_api_key: Option<String>,
    #[arg(long, env = "GEMINI_MODEL", hide = true)]
    pub gemini_model: Option<String>,
    #[arg(long, env = "ANTHROPIC_MODEL", hide = true)]
    pub anthropic_model: Option<String>,
    #[arg(long, env = "OPENAI_MODEL", hide = true)]
    pub openai_model: Option<String>,
    #[arg(long, env = "GEMINI_API_BASE", hide = true)]
    pub gemini_api_base: Option<String>,
    #[arg(long, env = "ANTHROPIC_API_BASE", hide = true)]
    pub anthropic_api_base: Option<String>,
    #[arg(long, env = "OPENAI_API_BASE", hide = true)]
    pub openai_api_base: Option<String>,
}

/// The Ask provider.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Provider {
    None,
    Gemini,
    Anthropic,
    Openai,
}

impl Provider {
    /// The provider's name as configured and reported.
    pub fn as_str(self) -> &'static str {
        match self {
            Provider::None => "none",
            Provider::Gemini => "gemini",
            Provider::Anthropic => "anthropic",
            Provider::Openai => "openai",
        }
    }

    fn parse(s: &str) -> Option<Provider> {
        match s.trim().to_ascii_lowercase().as_str() {
            "none" => Some(Provider::None),
            "gemini" => Some(Provider::Gemini),
            "anthropic" => Some(Provider::Anthropic),
            "openai" => Some(Provider::Openai),
            _ => None,
        }
    }
}

/// How tools are offered to the model.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ToolMode {
    /// The vendor's function-calling API.
    Native,
    /// Tools described in the prompt, calls read back from the text (Gemini only).
    Text,
}

impl ToolMode {
    pub fn as_str(self) -> &'static str {
        match self {
            ToolMode::Native => "native",
            ToolMode::Text => "text",
        }
    }
}

/// A credential; its `Debug` never shows the value.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(pub String);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// Validated Ask settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LlmConfig {
    pub provider: Provider,
    /// Named explicitly (even `none`) or inferred from a credential (spec reads §7.3).
    pub configured: bool,
    /// The provider's credential, when present.
    pub api_key: Option<Secret>,
    /// Empty for provider `none`.
    pub model: String,
    /// Without a trailing `/`; empty for provider `none`.
    pub api_base: String,
    pub tool_mode: ToolMode,
    pub max_steps_default: u32,
    pub max_steps_max: u32,
}

impl LlmConfig {
    /// Ask works: a provider other than `none` with its credential.
    pub fn ask_enabled(&self) -> bool {
        self.provider != Provider::None && self.api_key.is_some()
    }
}

fn non_empty(v: &Option<String>) -> Option<String> {
    v.as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
}

fn steps(name: &str, s: &str) -> Result<u32, String> {
    match s.trim().parse::<u32>() {
        Ok(n) if n > 0 => Ok(n),
        _ => Err(format!("{name}: expected a positive integer, got {s:?}")),
    }
}

impl LlmArgs {
    /// Validate: an unknown provider or tool mode is an error naming the variable.
    pub fn into_config(self) -> Result<LlmConfig, String> {
        let named = match non_empty(&self.llm_provider) {
            Some(p) => Some(Provider::parse(&p).ok_or_else(|| {
                format!(
                    "WAYLOG_LLM_PROVIDER: expected none, gemini, anthropic or openai, got {p:?}"
                )
            })?),
            None => None,
        };
        let gemini_key =
            non_empty(&self.gemini_api_key).or_else(|| non_empty(&self.google_api_key));
        let anthropic_key = non_empty(&self.anthropic_api_key);
        let openai_key = non_empty(&self.openai_api_key);
        let inferred = if gemini_key.is_some() {
            Some(Provider::Gemini)
        } else if anthropic_key.is_some() {
            Some(Provider::Anthropic)
        } else if openai_key.is_some() {
            Some(Provider::Openai)
        } else {
            None
        };
        let configured = named.is_some() || inferred.is_some();
        let provider = named.or(inferred).unwrap_or(Provider::None);
        let (api_key, vendor_model, vendor_base, default_model, default_base) = match provider {
            Provider::None => (None, None, None, "", ""),
            Provider::Gemini => (
                gemini_key,
                non_empty(&self.gemini_model),
                non_empty(&self.gemini_api_base),
                "gemini-2.5-flash",
                "https://generativelanguage.googleapis.com",
            ),
            Provider::Anthropic => (
                anthropic_key,
                non_empty(&self.anthropic_model),
                non_empty(&self.anthropic_api_base),
                "claude-sonnet-4-6",
                "https://api.anthropic.com",
            ),
            Provider::Openai => (
                openai_key,
                non_empty(&self.openai_model),
                non_empty(&self.openai_api_base),
                "gpt-5.4-mini",
                "https://api.openai.com",
            ),
        };
        let (model, api_base) = if provider == Provider::None {
            (String::new(), String::new())
        } else {
            (
                non_empty(&self.llm_model)
                    .or(vendor_model)
                    .unwrap_or_else(|| default_model.to_owned()),
                non_empty(&self.llm_api_base)
                    .or(vendor_base)
                    .unwrap_or_else(|| default_base.to_owned())
                    .trim_end_matches('/')
                    .to_owned(),
            )
        };
        let tool_mode = match (provider, non_empty(&self.llm_tool_mode).as_deref()) {
            (Provider::Gemini, None | Some("text")) => ToolMode::Text,
            (Provider::Gemini, Some("native")) => ToolMode::Native,
            (Provider::Gemini, Some(other)) => {
                return Err(format!(
                    "WAYLOG_LLM_TOOL_MODE: expected native or text, got {other:?}"
                ));
            }
            _ => ToolMode::Native,
        };
        let max_steps_max = steps("WAYLOG_ASK_MAX_STEPS_MAX", &self.ask_max_steps_max)?;
        let max_steps_default =
            steps("WAYLOG_ASK_MAX_STEPS_DEFAULT", &self.ask_max_steps_default)?.min(max_steps_max);
        Ok(LlmConfig {
            provider,
            configured,
            api_key: api_key.map(Secret),
            model,
            api_base,
            tool_mode,
            max_steps_default,
            max_steps_max,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args() -> LlmArgs {
        crate::config::declared_defaults()
    }

    #[test]
    fn unset_is_provider_none_not_configured() {
        let c = args().into_config().unwrap();
        assert_eq!(c.provider, Provider::None);
        assert!(!c.configured);
        assert!(!c.ask_enabled());
        assert_eq!(c.model, "");
        assert_eq!((c.max_steps_default, c.max_steps_max), (5, 8));
    }

    #[test]
    fn provider_is_inferred_from_the_first_credential() {
        let mut a = args();
        a.openai_api_key = Some("o".into());
        a.anthropic_api_key = Some("a".into());
        let c = a.clone().into_config().unwrap();
        assert_eq!(c.provider, Provider::Anthropic);
        assert_eq!(c.model, "claude-sonnet-4-6");
        assert!(c.configured && c.ask_enabled());
        a.google_api_key = Some("g".into());
        let c = a.into_config().unwrap();
        assert_eq!(c.provider, Provider::Gemini);
        assert_eq!(c.tool_mode, ToolMode::Text);
        assert_eq!(c.api_key, Some(Secret("g".into())));
    }

    #[test]
    fn named_provider_without_credential_is_configured_but_not_enabled() {
        let mut a = args();
        a.llm_provider = Some("OpenAI".into());
        a.openai_model = Some("m1".into());
        a.llm_api_base = Some("http://127.0.0.1:9/".into());
        let c = a.into_config().unwrap();
        assert_eq!(c.provider, Provider::Openai);
        assert!(c.configured && !c.ask_enabled());
        assert_eq!(c.model, "m1");
        assert_eq!(c.api_base, "http://127.0.0.1:9");
        let mut a = args();
        a.llm_provider = Some("none".into());
        a.openai_api_key = Some("o".into());
        let c = a.into_config().unwrap();
        assert!(c.configured && !c.ask_enabled());
    }

    #[test]
    fn bad_values_name_the_variable() {
        let mut a = args();
        a.llm_provider = Some("llama".into());
        assert!(a.into_config().unwrap_err().contains("WAYLOG_LLM_PROVIDER"));
        let mut a = args();
        a.llm_provider = Some("gemini".into());
        a.llm_tool_mode = Some("smoke".into());
        assert!(
            a.into_config()
                .unwrap_err()
                .contains("WAYLOG_LLM_TOOL_MODE")
        );
        assert!(!format!("{:?}", Secret("k".into())).contains('k'));
    }
}
