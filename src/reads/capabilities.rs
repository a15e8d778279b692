//! `GET /v1/capabilities` (spec reads §7.3): what this server offers, from its configuration.
//! Field order is the spec's (structs, not maps, so `waylog capabilities --json` prints it).

use serde::{Deserialize, Serialize};

use crate::config::Config;
use crate::config::llm::Provider;
use crate::duration::format_duration;

#[derive(Debug, Clone, Serialize, Deserialize)]
/// `S`: the server writes `&'static str`, the CLI reads `String`.
pub struct Capabilities<S = &'static str> {
    pub version: S,
    pub profile: S,
    pub v2_reads: Enabled,
    pub otlp: Otlp,
    pub ask: Ask,
    pub llm: Llm,
    pub incidents: Incidents<S>,
    pub architecture: Architecture<S>,
    pub query: QueryCaps<S>,
    pub mcp: Mcp,
    /// The background jobs' states (`/readyz`'s view), filled in by the route; absent from
    /// older servers.
    #[serde(default)]
    pub jobs: Vec<Job>,
    /// The dedup memory's horizon now (spec events §3.3), filled in by the route once storage
    /// is open; absent before and from older servers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dedup: Option<DedupCaps>,
}

/// How far back re-sent event ids are recognised: the configured window and budget, and what
/// the memory holds now. `full` means the byte budget is reached and new ids push the oldest
/// out, so `horizon_secs` (the oldest remembered id's age) may be shorter than `window_secs`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DedupCaps {
    pub window_secs: u64,
    pub min_ids: usize,
    pub max_bytes: usize,
    pub max_ids: usize,
    pub ids: usize,
    pub memory_bytes: usize,
    pub horizon_secs: u64,
    pub full: bool,
    /// Ids forgotten inside the window because the budget was full, since the server started.
    pub evicted: u64,
}

/// The dedup section for `config` and the writer's last published `status`, at `now_ns`.
pub fn dedup_caps(config: &Config, status: &crate::storage::DedupStatus, now_ns: i64) -> DedupCaps {
    DedupCaps {
        window_secs: config.dedup_window.as_secs(),
        min_ids: config.dedup_min_ids,
        max_bytes: config.dedup_max_bytes,
        max_ids: status.max_ids,
        ids: status.ids,
        memory_bytes: status.memory_bytes,
        horizon_secs: u64::try_from(status.horizon_ns(now_ns) / 1_000_000_000).unwrap_or(0),
        full: status.full(),
        evicted: status.evicted,
    }
}

/// One background job: `job` (`wal_writer`, `flusher`, `index_warmer`, `incident_engine`),
/// `state` (`starting`, `ok`, `disabled`, `failing`, `stopped`) and why when not `ok`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Job {
    pub job: String,
    pub state: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub detail: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Enabled {
    pub enabled: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Otlp {
    pub http_traces: bool,
    pub grpc_traces: bool,
    pub grpc_addr: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Ask {
    pub enabled: bool,
    pub model: String,
    pub tool_mode: String,
    pub max_steps_default: u32,
    pub max_steps_max: u32,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Llm {
    pub provider: String,
    pub model: String,
    pub tool_mode: String,
    pub configured: bool,
    pub ask_enabled: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Incidents<S = &'static str> {
    pub enabled: bool,
    pub persistent: bool,
    pub rebuild: Rebuild<S>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Rebuild<S = &'static str> {
    pub supported: bool,
    pub scope: S,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Architecture<S = &'static str> {
    pub flattened: bool,
    pub retention: RetentionCaps,
    pub hot_window: HotWindow<S>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RetentionCaps {
    pub duration: String,
    pub duration_secs: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct HotWindow<S = &'static str> {
    pub enabled: bool,
    pub duration: String,
    pub duration_secs: u64,
    pub source: S,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct QueryCaps<S = &'static str> {
    pub enabled: bool,
    pub default_limit: usize,
    pub max_rows: usize,
    pub default_timeout_ms: u64,
    pub max_timeout_ms: u64,
    pub tables: Vec<S>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Mcp {
    pub stdio: bool,
    pub http: bool,
}

/// The capabilities of a server running with `config`.
///
/// Every section reports what is configured: the LLM/Ask section from `WAYLOG_LLM_*` and the
/// vendor credentials, MCP from the `mcp` switches (`waylog mcp` over stdio; `POST /mcp`
/// unless `WAYLOG_MCP_HTTP=false`).
pub fn capabilities(config: &Config) -> Capabilities {
    let llm = &config.llm;
    // Model and tool mode are reported for a provider that can run (spec reads §7.3).
    let (model, tool_mode) = if llm.provider == Provider::None {
        (String::new(), String::new())
    } else {
        (llm.model.clone(), llm.tool_mode.as_str().to_owned())
    };
    let max_timeout_ms = u64::try_from(config.query_timeout.as_millis()).unwrap_or(u64::MAX);
    Capabilities {
        version: env!("CARGO_PKG_VERSION"),
        profile: config.profile.as_str(),
        v2_reads: Enabled { enabled: true },
        otlp: Otlp {
            http_traces: config.otlp_enabled,
            grpc_traces: config.otlp_enabled && config.otlp_grpc_addr.is_some(),
            grpc_addr: config
                .otlp_grpc_addr
                .filter(|_| config.otlp_enabled)
                .map(|a| a.to_string())
                .unwrap_or_default(),
        },
        ask: Ask {
            enabled: llm.ask_enabled(),
            model: model.clone(),
            tool_mode: tool_mode.clone(),
            max_steps_default: llm.max_steps_default,
            max_steps_max: llm.max_steps_max,
        },
        llm: Llm {
            provider: llm.provider.as_str().into(),
            model,
            tool_mode,
            configured: llm.configured,
            ask_enabled: llm.ask_enabled(),
        },
        incidents: Incidents {
            enabled: config.incidents.enabled,
            persistent: true,
            rebuild: Rebuild {
                supported: true,
                scope: "retention",
            },
        },
        architecture: Architecture {
            flattened: true,
            retention: RetentionCaps {
                duration: format_duration(config.retention),
                duration_secs: config.retention.as_secs(),
            },
            hot_window: HotWindow {
                enabled: true,
                duration: config.hot_window_display(),
                duration_secs: config.hot_window.as_secs(),
                source: if config.hot_window_from_env {
                    "WAYLOG_HOT_WINDOW"
                } else {
                    "default"
                },
            },
        },
        query: QueryCaps {
            enabled: true,
            default_limit: 1000.min(config.query_max_rows),
            max_rows: config.query_max_rows,
            default_timeout_ms: 10_000.min(max_timeout_ms),
            max_timeout_ms,
            tables: crate::query::table_names(),
        },
        mcp: Mcp {
            stdio: true,
            http: config.mcp_http,
        },
        jobs: Vec::new(),
        dedup: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capabilities_follow_config_defaults() {
        let c = Config::for_data_dir("/tmp/x");
        let v = serde_json::to_value(capabilities(&c)).unwrap();
        assert_eq!(v["profile"], "dev");
        assert_eq!(v["architecture"]["retention"]["duration"], "168h0m0s");
        assert_eq!(v["architecture"]["retention"]["duration_secs"], 604_800);
        assert_eq!(v["architecture"]["hot_window"]["duration"], "15m0s");
        assert_eq!(v["architecture"]["hot_window"]["source"], "default");
        assert_eq!(v["query"]["default_limit"], 1000);
        assert_eq!(v["query"]["max_rows"], 10_000);
        assert_eq!(v["query"]["default_timeout_ms"], 10_000);
        assert_eq!(v["query"]["max_timeout_ms"], 30_000);
        assert_eq!(
            v["query"]["tables"],
            serde_json::json!([
                "alerts",
                "deployments",
                "events",
                "incident_versions",
                "incidents",
                "signals"
            ])
        );
        assert_eq!(v["incidents"]["enabled"], true);
        let mut off = Config::for_data_dir("/tmp/x");
        off.incidents.enabled = false;
        let v_off = serde_json::to_value(capabilities(&off)).unwrap();
        assert_eq!(v_off["incidents"]["enabled"], false);
        assert_eq!(v["otlp"]["http_traces"], true);
        assert_eq!(v["llm"]["provider"], "none");
        assert_eq!(v["llm"]["configured"], false);
        assert_eq!(v["ask"]["enabled"], false);
        assert_eq!(v["mcp"]["http"], true);
        assert_eq!(v["otlp"]["grpc_traces"], true);
        let text = serde_json::to_string(&capabilities(&c)).unwrap();
        let json_of = |c: &Config| serde_json::to_value(capabilities(c)).unwrap();
        // MCP over HTTP follows its switch; stdio is always there (`waylog mcp`).
        let mut no_http = c.clone();
        no_http.mcp_http = false;
        assert_eq!(
            json_of(&no_http)["mcp"],
            serde_json::json!({"stdio": true, "http": false})
        );
        // A provider with its credential enables Ask; named without one it is only configured.
        let mut llm = crate::config::ServeArgs::defaults().llm;
        llm.anthropic_api_key = Some("k".into());
        let mut ask = c.clone();
        ask.llm = llm.clone().into_config().unwrap();
        let v = json_of(&ask);
        assert_eq!(
            v["llm"],
            serde_json::json!({"provider": "anthropic", "model": "claude-sonnet-4-6",
                "tool_mode": "native", "configured": true, "ask_enabled": true})
        );
        assert_eq!(v["ask"]["enabled"], true);
        assert_eq!(v["ask"]["model"], "claude-sonnet-4-6");
        llm.anthropic_api_key = None;
        llm.llm_provider = Some("gemini".into());
        llm.ask_max_steps_max = "6".into();
        ask.llm = llm.into_config().unwrap();
        let v = json_of(&ask);
        assert_eq!(
            (
                v["llm"]["provider"].clone(),
                v["llm"]["configured"].clone(),
                v["llm"]["ask_enabled"].clone()
            ),
            ("gemini".into(), true.into(), false.into())
        );
        assert_eq!(v["llm"]["tool_mode"], "text");
        assert_eq!(
            (
                v["ask"]["enabled"].clone(),
                v["ask"]["max_steps_max"].clone()
            ),
            (false.into(), 6.into())
        );
        let keys = [
            "\"version\"",
            "\"profile\"",
            "\"v2_reads\"",
            "\"otlp\"",
            "\"ask\"",
            "\"llm\"",
            "\"incidents\"",
            "\"architecture\"",
            "\"query\"",
            "\"mcp\"",
        ];
        let at: Vec<usize> = keys.iter().map(|k| text.find(k).unwrap()).collect();
        assert!(at.windows(2).all(|w| w[0] < w[1]), "{text}");
    }
}
