//! The tool registry (spec reads §6.1-§6.3): each tool's name, description, version, input and
//! output JSON Schemas and examples, sorted by name; [`call`] validates params against the
//! input schema (`INVALID_PARAMS`), fills the declared defaults and runs the handler under the
//! `WAYLOG_QUERY_TIMEOUT` deadline (`TIMEOUT`; a panic is a retryable `INTERNAL`).

use std::panic::AssertUnwindSafe;
use std::sync::OnceLock;

use futures::FutureExt;
use serde::Serialize;
use serde_json::{Value, json};

use super::ToolEnv;
use super::error::{ToolCode, ToolError};
use super::schema::{array, id, input, integer, nullable, object, of, record, string};
use super::tools::{self, ToolId};

/// One registered tool.
#[derive(Debug, Clone, Serialize)]
pub struct Tool {
    pub name: &'static str,
    pub description: &'static str,
    pub version: &'static str,
    pub input_schema: Value,
    pub output_schema: Value,
    /// `[{"description", "params"}]`.
    pub examples: Value,
    #[serde(skip)]
    pub id: ToolId,
}

/// Every tool, sorted by name.
pub fn tools() -> &'static [Tool] {
    static TOOLS: OnceLock<Vec<Tool>> = OnceLock::new();
    TOOLS.get_or_init(|| {
        let mut all = definitions();
        all.extend(graph_definitions());
        all.sort_by_key(|t| t.name);
        all
    })
}

/// The tool called `name`.
pub fn find(name: &str) -> Option<&'static Tool> {
    tools().iter().find(|t| t.name == name)
}

/// `GET /v1/tools`: `{"tools": [...], "count": n}`.
pub fn listing() -> Value {
    json!({"tools": tools(), "count": tools().len()})
}

/// Validate `params`, fill defaults, run the tool under the deadline.
pub async fn call(env: &ToolEnv<'_>, name: &str, params: Value) -> Result<Value, ToolError> {
    let tool = find(name).ok_or_else(|| ToolError::not_found(format!("unknown tool {name:?}")))?;
    super::schema::validate(&tool.input_schema, &params, "params").map_err(ToolError::invalid)?;
    let Value::Object(map) = params else {
        return Err(ToolError::invalid("params must be a JSON object"));
    };
    let params = super::schema::with_defaults(&tool.input_schema, map);
    let run = AssertUnwindSafe(tools::run(tool.id, env, params)).catch_unwind();
    match tokio::time::timeout(env.config.query_timeout, run).await {
        Err(_) => Err(ToolError::new(ToolCode::Timeout, "deadline exceeded")),
        Ok(Err(_)) => {
            tracing::error!(tool = name, "tool handler panicked");
            let mut e = ToolError::new(ToolCode::Internal, "internal error");
            e.retryable = true;
            Err(e)
        }
        Ok(Ok(r)) => r,
    }
}

fn window(default: &str) -> Value {
    json!({"type": "string", "minLength": 1, "default": default,
           "description": "duration (15m, 1h, 2d), at most the retention; the window is [now - window, now]"})
}

fn example(description: &str, params: Value) -> Value {
    json!({"description": description, "params": params})
}

fn incident_params(extra: Vec<(&'static str, Value)>) -> Value {
    let mut props = vec![
        ("incident_id", id("incident id (inc_…)")),
        ("window", window("15m")),
        (
            "snapshot",
            json!({"type": "boolean", "default": false,
            "description": "end the window at the incident's updated_at instead of now"}),
        ),
    ];
    props.extend(extra);
    input(props, &["incident_id"])
}

fn story_schema() -> Value {
    object(
        vec![
            ("trace_id", of("string")),
            ("event_id", of("string")),
            ("service", of("string")),
            ("route", of("string")),
            ("status", of("string")),
            (
                "anchor",
                json!({"type": ["object", "null"], "properties": {
                "step": of("string"), "error_code": of("string")}}),
            ),
            (
                "path",
                array(object(
                    vec![
                        ("name", of("string")),
                        ("start_ms", of("integer")),
                        ("duration_ms", of("integer")),
                        ("status", of("string")),
                        ("error_code", of("string")),
                        ("error_msg", of("string")),
                    ],
                    &["name", "start_ms", "duration_ms", "status"],
                )),
            ),
            (
                "logs",
                array(record(vec![
                    ("ts_offset_ms", of("integer")),
                    ("level", of("string")),
                    ("msg", of("string")),
                ])),
            ),
            (
                "downstream",
                array(record(vec![
                    ("step", of("string")),
                    ("service", of("string")),
                    ("endpoint", of("string")),
                ])),
            ),
            ("linkage", of("string")),
        ],
        &[
            "trace_id",
            "event_id",
            "service",
            "route",
            "status",
            "anchor",
            "path",
            "logs",
            "downstream",
            "linkage",
        ],
    )
}

fn blast_schema() -> Value {
    record(vec![
        ("key", of("object")),
        ("view_mode", of("string")),
        ("window", of("string")),
        ("affected_requests", of("integer")),
        ("affected_users", nullable("integer")),
        ("affected_services", of("integer")),
        ("top_services", array(of("string"))),
        ("sample_traces", array(of("string"))),
    ])
}

fn suspect_change_schema() -> Value {
    object(
        vec![
            ("deploy_id", of("string")),
            ("service", of("string")),
            ("version", of("string")),
            ("commit_sha", of("string")),
            ("pr_url", of("string")),
            ("commit_author", of("string")),
            ("deployed_at", of("string")),
            ("error_rate_before", nullable("number")),
            ("error_rate_after", nullable("number")),
        ],
        &["deploy_id", "service"],
    )
}

fn triage_schema() -> Value {
    object(
        vec![
            ("schema_version", of("string")),
            (
                "incident_ref",
                record(vec![("id", of("string")), ("window", of("string"))]),
            ),
            (
                "blast_snapshot",
                record(vec![
                    ("requests", of("integer")),
                    ("users", of("integer")),
                    ("services", of("integer")),
                    (
                        "top_error_families",
                        array(record(vec![
                            ("service", of("string")),
                            ("step", of("string")),
                            ("error_code", of("string")),
                            ("count", of("integer")),
                        ])),
                    ),
                ]),
            ),
            ("first_failure", of("object")),
            ("suspect_change", suspect_change_schema()),
            (
                "sample_traces",
                array(object(vec![("trace_id", of("string"))], &["trace_id"])),
            ),
            (
                "signals",
                array(object(
                    vec![
                        ("id", of("string")),
                        ("type", of("string")),
                        ("evidence_ids", array(of("string"))),
                    ],
                    &["id", "type", "evidence_ids"],
                )),
            ),
            (
                // `alert_id` and `provider_url` are omitted when empty (triage §6.1).
                "alerts",
                array(object(
                    vec![
                        ("signal_id", of("string")),
                        ("alert_id", of("string")),
                        ("source", of("string")),
                        ("severity", of("string")),
                        ("reason", of("string")),
                        ("evidence_ids", array(of("string"))),
                    ],
                    &["signal_id", "source", "severity", "reason", "evidence_ids"],
                )),
            ),
            ("runtime", array(of("object"))),
            ("suspect_dimensions", array(of("object"))),
            (
                "next_checks",
                array(record(vec![("id", of("string")), ("prompt", of("string"))])),
            ),
            ("confidence", of("string")),
            ("generated_at", of("string")),
            ("plan_run_id", of("string")),
            ("report_hash", of("string")),
            ("evidence_fingerprint", of("string")),
        ],
        &[
            "schema_version",
            "incident_ref",
            "blast_snapshot",
            "confidence",
            "generated_at",
            "report_hash",
            "evidence_fingerprint",
        ],
    )
}

fn query_schema() -> Value {
    record(vec![
        ("schema_version", of("string")),
        (
            "columns",
            array(record(vec![
                ("name", of("string")),
                ("type", of("string")),
                ("nullable", of("boolean")),
            ])),
        ),
        ("rows", array(of("array"))),
        ("row_count", of("integer")),
        ("truncated", of("boolean")),
    ])
}

fn incidents_schema() -> Value {
    record(vec![
        (
            "incidents",
            array(record(vec![
                ("incident_id", of("string")),
                ("env", of("string")),
                ("service", of("string")),
                ("step", of("string")),
                ("error_code", of("string")),
                ("status", of("string")),
                ("cause", of("string")),
                ("confidence", of("string")),
                ("affected_users", nullable("integer")),
                ("affected_requests", of("integer")),
                ("affected_services", of("integer")),
                ("needs_judgment", of("boolean")),
                ("started_at", of("string")),
            ])),
        ),
        ("count", of("integer")),
    ])
}

fn graph_window() -> (&'static str, Value) {
    ("window", window("1h"))
}

fn paging_params() -> Vec<(&'static str, Value)> {
    vec![
        (
            "limit",
            json!({"type": "integer", "default": 100,
            "description": "page size (<= 0 means 100, at most 1000)"}),
        ),
        (
            "offset",
            json!({"type": "integer", "default": 0, "description": "rows to skip"}),
        ),
    ]
}

fn trace_ref_params() -> Value {
    input(
        vec![
            ("trace_id", id("trace id")),
            ("request_id", id("request id (the trace id)")),
        ],
        &[],
    )
}

fn error_fields(mut props: Vec<(&'static str, Value)>, required: &[&str]) -> Value {
    props.extend([
        ("error_code", of("string")),
        ("error_path", of("string")),
        ("error_reason", of("string")),
    ]);
    object(props, required)
}

fn counted(key: &'static str) -> Value {
    array(record(vec![(key, of("string")), ("count", of("integer"))]))
}

fn span() -> Value {
    record(vec![("since", of("string")), ("until", of("string"))])
}

fn change() -> Value {
    array(record(vec![
        ("error_code", of("string")),
        ("before", of("integer")),
        ("after", of("integer")),
        ("delta", of("integer")),
    ]))
}

fn graph_definitions() -> Vec<Tool> {
    let trace = "4bf92f3577b34da6a3ce929d0e0e4736";
    vec![
        Tool {
            name: "graph_stats",
            description: "Counts of a window: events, requests, failed requests, users, services, distinct failure codes.",
            version: "stats.v2",
            input_schema: input(vec![graph_window()], &[]),
            output_schema: record(vec![
                ("schema_version", of("string")),
                ("window", of("string")),
                ("events", of("integer")),
                ("requests", of("integer")),
                ("failed_requests", of("integer")),
                ("users", of("integer")),
                ("services", of("integer")),
                ("failures", of("integer")),
            ]),
            examples: json!([example("last hour", json!({"window": "1h"}))]),
            id: ToolId::GraphStats,
        },
        Tool {
            name: "trace_summary",
            description: "One request: status, latency, services, its originating error and every root-to-leaf service path.",
            version: "trace-summary.v2",
            input_schema: input(vec![("trace_id", id("trace id"))], &["trace_id"]),
            output_schema: error_fields(
                vec![
                    ("schema_version", of("string")),
                    ("trace_id", of("string")),
                    ("request_id", of("string")),
                    ("linkage", of("string")),
                    ("status", of("string")),
                    ("latency_ms", of("integer")),
                    ("services", array(of("string"))),
                    ("paths", array(array(of("string")))),
                ],
                &[
                    "schema_version",
                    "trace_id",
                    "request_id",
                    "linkage",
                    "status",
                    "latency_ms",
                    "services",
                    "paths",
                ],
            ),
            examples: json!([example("one trace", json!({"trace_id": trace}))]),
            id: ToolId::TraceSummary,
        },
        Tool {
            name: "graph_failures",
            description: "Root-cause failed requests of a window, newest first, with their originating error.",
            version: "failures.v2",
            input_schema: input(
                [
                    vec![graph_window(), ("tier", string("only this user tier"))],
                    paging_params(),
                ]
                .concat(),
                &[],
            ),
            output_schema: record(vec![
                ("schema_version", of("string")),
                (
                    "failures",
                    array(error_fields(
                        vec![
                            ("request_id", of("string")),
                            ("trace_id", of("string")),
                            ("ts", of("string")),
                            ("latency_ms", of("integer")),
                            ("tier", of("string")),
                        ],
                        &[
                            "request_id",
                            "trace_id",
                            "ts",
                            "latency_ms",
                            "error_code",
                            "error_path",
                        ],
                    )),
                ),
                ("total_count", of("integer")),
                ("has_more", of("boolean")),
            ]),
            examples: json!([example(
                "gold users",
                json!({"window": "1h", "tier": "gold", "limit": 20})
            )]),
            id: ToolId::GraphFailures,
        },
        Tool {
            name: "failure_patterns",
            description: "Root-cause failures of a window grouped by origin code, flow (route) and user tier.",
            version: "patterns.v2",
            input_schema: input([vec![graph_window()], paging_params()].concat(), &[]),
            output_schema: record(vec![
                ("schema_version", of("string")),
                (
                    "patterns",
                    array(record(vec![
                        ("error_code", of("string")),
                        ("flow", of("string")),
                        ("user_tier", of("string")),
                        ("feature_flags", array(of("string"))),
                        ("count", of("integer")),
                    ])),
                ),
                ("total_count", of("integer")),
                ("has_more", of("boolean")),
            ]),
            examples: json!([example("last hour", json!({"window": "1h"}))]),
            id: ToolId::FailurePatterns,
        },
        Tool {
            name: "failure_chain",
            description: "The services a failure propagated through, from the entry service down to its origin.",
            version: "chain.v2",
            input_schema: trace_ref_params(),
            output_schema: record(vec![
                ("schema_version", of("string")),
                ("request_id", of("string")),
                ("trace_id", of("string")),
                ("linkage", of("string")),
                ("services", array(of("string"))),
            ]),
            examples: json!([example("one request", json!({"request_id": trace}))]),
            id: ToolId::FailureChain,
        },
        Tool {
            name: "compare_windows",
            description: "Root-cause failure codes, request counts and latency percentiles of a window against a baseline.",
            version: "compare.v2",
            input_schema: input(
                vec![
                    ("current", id("current window duration")),
                    ("baseline", id("baseline window duration")),
                    (
                        "offset",
                        id("baseline ends this long before now (default: current)"),
                    ),
                    (
                        "anchor",
                        id("RFC 3339 time: current starts, baseline ends here"),
                    ),
                ],
                &["current", "baseline"],
            ),
            output_schema: record(vec![
                ("schema_version", of("string")),
                ("current_window", span()),
                ("baseline_window", span()),
                ("new", change()),
                ("removed", change()),
                ("increased", change()),
                ("decreased", change()),
                ("total_requests_before", of("integer")),
                ("total_requests_after", of("integer")),
                ("total_failures_before", of("integer")),
                ("total_failures_after", of("integer")),
                ("latency_p50_before", of("integer")),
                ("latency_p50_after", of("integer")),
                ("latency_p95_before", of("integer")),
                ("latency_p95_after", of("integer")),
                ("latency_p99_before", of("integer")),
                ("latency_p99_after", of("integer")),
            ]),
            examples: json!([example(
                "last 15 minutes vs the 15 before",
                json!({"current": "15m", "baseline": "15m"})
            )]),
            id: ToolId::CompareWindows,
        },
        Tool {
            name: "graph_insights",
            description: "Total root-cause failures of a window, the top error codes and the top services they touched.",
            version: "insights.v2",
            input_schema: input(
                vec![
                    graph_window(),
                    ("top_errors", integer("error codes listed", 0, 50, 5)),
                    ("top_services", integer("services listed", 0, 50, 5)),
                ],
                &[],
            ),
            output_schema: record(vec![
                ("schema_version", of("string")),
                ("window", of("string")),
                ("total_failures", of("integer")),
                ("top_errors", counted("error_code")),
                ("top_services", counted("service")),
            ]),
            examples: json!([example(
                "ten minutes",
                json!({"window": "10m", "top_errors": 3})
            )]),
            id: ToolId::GraphInsights,
        },
    ]
}

fn definitions() -> Vec<Tool> {
    let inc = "inc_0123456789abcdef";
    vec![
        Tool {
            name: "explain_request",
            description: "The story of one failed request: the originating failure of a trace (or one event), its path, logs and downstream calls.",
            version: "explain.v2",
            input_schema: input(
                vec![
                    ("trace_id", id("trace id (32 hex)")),
                    ("event_id", id("event id")),
                ],
                &[],
            ),
            output_schema: story_schema(),
            examples: json!([example(
                "explain a trace",
                json!({"trace_id": "4bf92f3577b34da6a3ce929d0e0e4736"})
            )]),
            id: ToolId::ExplainRequest,
        },
        Tool {
            name: "blast_radius",
            description: "Requests, users and services affected by an error family or code in a window.",
            version: "blast.v2",
            input_schema: input(
                vec![
                    ("error_family", string("service:step:error_code")),
                    ("service", string("service of the family")),
                    ("step", string("step of the family")),
                    ("error_code", string("error code")),
                    ("window", window("15m")),
                ],
                &[],
            ),
            output_schema: blast_schema(),
            examples: json!([example(
                "one code",
                json!({"error_code": "PMT_502", "window": "15m"})
            )]),
            id: ToolId::BlastRadius,
        },
        Tool {
            name: "triage_incident",
            description: "The TriageReport v1 of an incident: blast, first failure, suspect change, traces, signals, alerts, next checks, report_hash.",
            version: "triage.v1",
            input_schema: incident_params(vec![]),
            output_schema: triage_schema(),
            examples: json!([example(
                "a stable report",
                json!({"incident_id": inc, "snapshot": true})
            )]),
            id: ToolId::TriageIncident,
        },
        Tool {
            name: "render_triage_report",
            description: "The TriageReport of an incident rendered as Markdown, Slack Block Kit or a PagerDuty note.",
            version: "triage-report.v1",
            input_schema: incident_params(vec![(
                "format",
                json!({"type": "string", "enum": ["markdown", "slack", "pagerduty"],
                       "default": "markdown", "description": "rendering"}),
            )]),
            output_schema: record(vec![
                ("format", of("string")),
                ("content_type", of("string")),
                ("body", json!({"type": ["string", "object"]})),
            ]),
            examples: json!([example(
                "for Slack",
                json!({"incident_id": inc, "format": "slack"})
            )]),
            id: ToolId::RenderTriageReport,
        },
        Tool {
            name: "list_active_incidents",
            description: "Open incidents (active or recovering), largest impact first.",
            version: "list-incidents.v1",
            input_schema: input(
                vec![
                    ("env", string("only this environment")),
                    ("limit", integer("at most this many", 1, 200, 50)),
                ],
                &[],
            ),
            output_schema: incidents_schema(),
            examples: json!([example("production", json!({"env": "prod", "limit": 10}))]),
            id: ToolId::ListActiveIncidents,
        },
        Tool {
            name: "suspect_change",
            description: "The deployment suspected of causing an incident (EMPTY_RESULT when there is none).",
            version: "suspect.v1",
            input_schema: incident_params(vec![]),
            output_schema: suspect_change_schema(),
            examples: json!([example("suspect deploy", json!({"incident_id": inc}))]),
            id: ToolId::SuspectChange,
        },
        Tool {
            name: "query_sql",
            description: "Read-only SQL (DataFusion) over events, signals, alerts, deployments and incidents, hot and cold data alike.",
            version: "sql.v1",
            input_schema: input(
                vec![
                    ("sql", id("one read-only statement")),
                    ("limit", integer("rows at most", 1, 10_000, 1000)),
                ],
                &["sql"],
            ),
            output_schema: query_schema(),
            examples: json!([example(
                "failures per service",
                json!({
                "sql": "SELECT service, count(*) AS n FROM events WHERE status = 'error' GROUP BY service ORDER BY n DESC"})
            )]),
            id: ToolId::QuerySql,
        },
    ]
}
