//! Plans (spec reads §6.4): a body of steps or a template, validated against the registry
//! (tools, params, references along output schemas) into a [`Plan`], then run step by step
//! ([`execute`]): references resolve against earlier results, the first failure halts. Every
//! step start, completion and the end are reported to a sink as the SSE frames of
//! `GET /v1/stream/plans/{plan_id}` ([`Frame`]).

use std::time::Instant;

use serde_json::{Map, Value, json};

use super::ToolEnv;
use super::error::{ToolCode, ToolError};
use super::registry;
use super::schema::{Segment, path_exists, validate};

/// Most steps of one plan.
pub const MAX_STEPS: usize = 10;

/// One validated step.
#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    pub id: String,
    pub tool: String,
    pub params: Map<String, Value>,
}

/// A validated plan.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    pub steps: Vec<Step>,
}

/// One event of a plan's stream: `event: <event>` / `data: <data>`.
#[derive(Debug, Clone, PartialEq)]
pub struct Frame {
    pub event: &'static str,
    pub data: Value,
}

/// A parsed reference `$steps["<id>"].result<path>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reference {
    pub step: String,
    pub path: Vec<Segment>,
}

fn invalid_plan(messages: Vec<String>) -> ToolError {
    ToolError::new(ToolCode::InvalidPlan, messages.join("; "))
}

/// Parse a reference string; `None` when it is not a whole, well-formed reference.
pub fn parse_reference(s: &str) -> Option<Reference> {
    let rest = s.strip_prefix("$steps[\"")?;
    let (step, rest) = rest.split_once("\"]")?;
    let mut rest = rest.strip_prefix(".result")?;
    let mut path = Vec::new();
    while !rest.is_empty() {
        if let Some(r) = rest.strip_prefix('.') {
            let end = r
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(r.len());
            let field = &r[..end];
            let first = field.chars().next()?;
            if !(first.is_ascii_alphabetic() || first == '_') {
                return None;
            }
            path.push(Segment::Field(field.to_owned()));
            rest = &r[end..];
        } else if let Some(r) = rest.strip_prefix('[') {
            let (n, r) = r.split_once(']')?;
            if n.is_empty() || !n.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            path.push(Segment::Index(n.parse().ok()?));
            rest = r;
        } else {
            return None;
        }
    }
    (!step.is_empty()).then(|| Reference {
        step: step.to_owned(),
        path,
    })
}

/// The plan of a request body (`BAD_REQUEST` for invalid JSON, `INVALID_PLAN` otherwise).
pub fn parse_plan(body: &[u8]) -> Result<Plan, ToolError> {
    let v: Value = serde_json::from_slice(body)
        .map_err(|e| ToolError::new(ToolCode::BadRequest, format!("invalid JSON: {e}")))?;
    let Value::Object(o) = v else {
        return Err(invalid_plan(vec!["plan must be a JSON object".into()]));
    };
    let steps = match (o.get("steps"), o.get("template")) {
        (Some(_), Some(_)) => {
            return Err(invalid_plan(vec![
                "provide either steps or template, not both".into(),
            ]));
        }
        (None, Some(t)) => template(t, o.get("params"))?,
        (Some(Value::Array(steps)), None) => raw_steps(steps)?,
        (Some(_), None) => return Err(invalid_plan(vec!["steps must be an array".into()])),
        (None, None) => return Err(invalid_plan(vec!["plan must have at least 1 step".into()])),
    };
    let plan = Plan { steps };
    check_params(&plan)?;
    Ok(plan)
}

fn template(t: &Value, params: Option<&Value>) -> Result<Vec<Step>, ToolError> {
    let name = t.as_str().unwrap_or("").trim();
    if name != "triage" {
        return Err(invalid_plan(vec![format!(
            "unknown plan template {name:?}"
        )]));
    }
    let p = params.and_then(Value::as_object);
    let Some(id) = p
        .and_then(|p| p.get("incident_id"))
        .filter(|v| v.is_string())
    else {
        return Err(invalid_plan(vec![
            "template triage requires params.incident_id".into(),
        ]));
    };
    let mut out = Map::new();
    out.insert("incident_id".into(), id.clone());
    for key in ["window", "snapshot"] {
        if let Some(v) = p.and_then(|p| p.get(key)) {
            out.insert(key.into(), v.clone());
        }
    }
    Ok(vec![Step {
        id: "triage".into(),
        tool: "triage_incident".into(),
        params: out,
    }])
}

fn raw_steps(steps: &[Value]) -> Result<Vec<Step>, ToolError> {
    if steps.is_empty() {
        return Err(invalid_plan(vec!["plan must have at least 1 step".into()]));
    }
    if steps.len() > MAX_STEPS {
        return Err(invalid_plan(vec![format!(
            "plan has {} steps; maximum is {MAX_STEPS}",
            steps.len()
        )]));
    }
    let mut problems = Vec::new();
    let mut out: Vec<Step> = Vec::new();
    for (i, s) in steps.iter().enumerate() {
        let text = |k: &str| {
            s.get(k)
                .and_then(Value::as_str)
                .unwrap_or("")
                .trim()
                .to_owned()
        };
        let (id, tool) = (text("id"), text("tool"));
        if id.is_empty() {
            problems.push(format!("step {i}: id is required"));
        }
        if tool.is_empty() {
            problems.push(format!("step {i}: tool is required"));
        } else if registry::find(&tool).is_none() {
            problems.push(format!("step {id:?}: unknown tool {tool:?}"));
        }
        if !id.is_empty() && out.iter().any(|o| o.id == id) {
            problems.push(format!("duplicate step id {id:?}"));
        }
        let params = match s.get("params") {
            None | Some(Value::Null) => Map::new(),
            Some(Value::Object(p)) => p.clone(),
            Some(_) => {
                problems.push(format!("step {id:?}: params must be an object"));
                Map::new()
            }
        };
        out.push(Step { id, tool, params });
    }
    if problems.is_empty() {
        Ok(out)
    } else {
        Err(invalid_plan(problems))
    }
}

/// Per step: references are whole, point back, and follow the earlier tool's output schema;
/// literals are declared properties of the right type; required properties are given.
fn check_params(plan: &Plan) -> Result<(), ToolError> {
    let mut problems = Vec::new();
    for (i, step) in plan.steps.iter().enumerate() {
        let Some(tool) = registry::find(&step.tool) else {
            continue;
        };
        let schema = &tool.input_schema;
        let props = schema.get("properties").and_then(Value::as_object);
        for (k, v) in &step.params {
            let at = format!("step {:?}: param {k:?}", step.id);
            let Some(prop) = props.and_then(|p| p.get(k)) else {
                problems.push(format!("{at}: unknown param"));
                continue;
            };
            match v.as_str().filter(|s| s.contains("$steps[\"")) {
                Some(r) => {
                    if let Err(why) = check_reference(plan, i, r) {
                        problems.push(format!("{at}: {why}"));
                    }
                }
                None => {
                    if let Err(why) = validate(prop, v, &at) {
                        problems.push(why);
                    }
                }
            }
        }
        let required = schema.get("required").and_then(Value::as_array);
        for name in required.into_iter().flatten().filter_map(Value::as_str) {
            if !step.params.contains_key(name) {
                problems.push(format!(
                    "step {:?}: missing required param {name:?}",
                    step.id
                ));
            }
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(invalid_plan(problems))
    }
}

fn check_reference(plan: &Plan, at: usize, text: &str) -> Result<(), String> {
    let r = parse_reference(text).ok_or_else(|| format!("invalid reference {text:?}"))?;
    let Some(target) = plan.steps[..at].iter().find(|s| s.id == r.step) else {
        return Err(if plan.steps[at..].iter().any(|s| s.id == r.step) {
            "forward or self-reference".into()
        } else {
            format!("reference to unknown step {:?}", r.step)
        });
    };
    let schema = registry::find(&target.tool)
        .map(|t| &t.output_schema)
        .ok_or_else(|| "unknown tool".to_string())?;
    if path_exists(schema, &r.path) {
        Ok(())
    } else {
        Err(format!(
            "path of {text:?} is not in {}'s output",
            target.tool
        ))
    }
}

/// Resolve `r` against the results so far (`null` on the path, a missing field or an
/// out-of-range position: `REF_RESOLVE_FAILED`).
fn resolve(r: &Reference, results: &[(String, Value)], text: &str) -> Result<Value, ToolError> {
    let fail = || ToolError::new(ToolCode::RefResolveFailed, format!("cannot resolve {text}"));
    let mut v = &results
        .iter()
        .find(|(id, _)| *id == r.step)
        .ok_or_else(fail)?
        .1;
    for seg in &r.path {
        v = match seg {
            Segment::Field(f) => v.get(f.as_str()),
            Segment::Index(n) => v.get(*n),
        }
        .filter(|v| !v.is_null())
        .ok_or_else(fail)?;
    }
    Ok(v.clone())
}

fn resolve_params(
    params: &Map<String, Value>,
    results: &[(String, Value)],
) -> Result<Map<String, Value>, ToolError> {
    let mut out = Map::new();
    for (k, v) in params {
        let value = match v.as_str().and_then(parse_reference) {
            Some(r) => resolve(&r, results, v.as_str().unwrap_or_default())?,
            None => v.clone(),
        };
        out.insert(k.clone(), value);
    }
    Ok(out)
}

fn short_error(e: &ToolError) -> Value {
    json!({"code": e.code.as_str(), "message": e.message, "retryable": e.retryable})
}

/// Run `plan` as `plan_id`, reporting frames to `sink`; the answer body of §6.4.
pub async fn execute(
    env: &ToolEnv<'_>,
    plan_id: &str,
    plan: &Plan,
    sink: &mut (dyn FnMut(Frame) + Send),
) -> Value {
    let total = plan.steps.len();
    let mut results: Vec<(String, Value)> = Vec::new();
    let mut steps = Vec::new();
    let mut halted: Option<(usize, ToolError)> = None;
    for (index, step) in plan.steps.iter().enumerate() {
        let head = json!({"index": index, "id": step.id, "tool": step.tool});
        sink(Frame {
            event: "step_start",
            data: head.clone(),
        });
        let started = Instant::now();
        let outcome = match resolve_params(&step.params, &results) {
            Ok(params) => registry::call(env, &step.tool, Value::Object(params)).await,
            Err(e) => Err(e),
        };
        let duration_ms = started.elapsed().as_millis() as u64;
        let mut done = head;
        done["duration_ms"] = json!(duration_ms);
        match outcome {
            Ok(result) => {
                done["status"] = json!("ok");
                sink(Frame {
                    event: "step_complete",
                    data: done,
                });
                steps.push(json!({"id": step.id, "index": index, "tool": step.tool,
                    "result": result, "error": null, "duration_ms": duration_ms}));
                results.push((step.id.clone(), result));
            }
            Err(e) => {
                done["status"] = json!("error");
                done["error"] = json!({"code": e.code.as_str(), "message": e.message});
                sink(Frame {
                    event: "step_complete",
                    data: done,
                });
                steps.push(json!({"id": step.id, "index": index, "tool": step.tool,
                    "error": short_error(&e), "duration_ms": duration_ms}));
                halted = Some((index, e));
                break;
            }
        }
    }
    let completed = results.len();
    let status = match &halted {
        None => "complete",
        Some((0, _)) => "failed",
        Some(_) => "partial",
    };
    let mut body = json!({"plan_id": plan_id, "steps": steps, "completed": completed,
        "total": total, "status": status});
    let mut done = json!({"status": status, "completed": completed, "total": total});
    if let Some((at, e)) = halted {
        body["halted_at"] = json!(at);
        body["error"] = short_error(&e);
        done["halted_at"] = json!(at);
    }
    sink(Frame {
        event: "done",
        data: done,
    });
    body
}

/// A fresh plan id: 16 lowercase hex.
pub fn new_plan_id() -> String {
    format!("{:016x}", rand::random::<u64>())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan_err(body: &str) -> String {
        let e = parse_plan(body.as_bytes()).unwrap_err();
        format!("{} {}", e.code.as_str(), e.message)
    }

    #[test]
    fn references_parse_whole_paths_only() {
        let r = parse_reference(r#"$steps["rollup"].result.top_errors[0].error_code"#).unwrap();
        assert_eq!(r.step, "rollup");
        assert_eq!(
            r.path,
            vec![
                Segment::Field("top_errors".into()),
                Segment::Index(0),
                Segment::Field("error_code".into())
            ]
        );
        for bad in [
            r#"x $steps["a"].result"#,
            r#"$steps["a"].res"#,
            r#"$steps["a"].result.1x"#,
            r#"$steps["a"].result[-1]"#,
            r#"$steps[""].result"#,
        ] {
            assert_eq!(parse_reference(bad), None, "{bad}");
        }
    }

    #[test]
    fn templates_and_validation_messages() {
        let p = parse_plan(
            br#"{"template": " triage ", "params": {"incident_id": "inc_1", "snapshot": true}}"#,
        )
        .unwrap();
        assert_eq!(p.steps[0].tool, "triage_incident");
        assert_eq!(p.steps[0].params["snapshot"], true);
        assert!(plan_err("{nope").starts_with("BAD_REQUEST invalid JSON: "));
        assert_eq!(
            plan_err(r#"{"template": "x"}"#),
            "INVALID_PLAN unknown plan template \"x\""
        );
        assert_eq!(
            plan_err(r#"{"template": "triage"}"#),
            "INVALID_PLAN template triage requires params.incident_id"
        );
        assert_eq!(
            plan_err(r#"{"steps": [], "template": "triage"}"#),
            "INVALID_PLAN provide either steps or template, not both"
        );
        assert_eq!(
            plan_err(r#"{"steps": []}"#),
            "INVALID_PLAN plan must have at least 1 step"
        );
        let eleven: Vec<Value> = (0..11)
            .map(|i| json!({"id": format!("s{i}"), "tool": "graph_stats"}))
            .collect();
        assert_eq!(
            plan_err(&json!({"steps": eleven}).to_string()),
            "INVALID_PLAN plan has 11 steps; maximum is 10"
        );
        assert_eq!(
            plan_err(
                r#"{"steps": [{"tool": "graph_stats"}, {"id": "a"}, {"id": "b", "tool": "nope"}, {"id": "b", "tool": "graph_stats"}]}"#
            ),
            "INVALID_PLAN step 0: id is required; step 1: tool is required; step \"b\": unknown tool \"nope\"; duplicate step id \"b\""
        );
    }

    #[test]
    fn params_are_checked_against_schemas_and_references_against_outputs() {
        let ok = r#"{"steps": [{"id": "r", "tool": "graph_insights", "params": {"window": "10m"}},
            {"id": "b", "tool": "blast_radius", "params": {"error_code": "$steps[\"r\"].result.top_errors[0].error_code"}}]}"#;
        assert_eq!(parse_plan(ok.as_bytes()).unwrap().steps.len(), 2);
        let forward = r#"{"steps": [{"id": "b", "tool": "blast_radius", "params": {"error_code": "$steps[\"b\"].result.window"}}]}"#;
        assert!(plan_err(forward).contains("forward or self-reference"));
        let bad_path = r#"{"steps": [{"id": "r", "tool": "graph_insights"},
            {"id": "b", "tool": "blast_radius", "params": {"error_code": "$steps[\"r\"].result.nope"}}]}"#;
        assert!(plan_err(bad_path).contains("not in graph_insights's output"));
        let literal =
            r#"{"steps": [{"id": "q", "tool": "query_sql", "params": {"sql": 3, "zzz": 1}}]}"#;
        let e = plan_err(literal);
        assert!(
            e.contains("step \"q\": param \"sql\" must be string") && e.contains("unknown param"),
            "{e}"
        );
        let missing = r#"{"steps": [{"id": "q", "tool": "query_sql"}]}"#;
        assert!(plan_err(missing).contains("missing required param \"sql\""));
    }

    #[test]
    fn resolution_fails_on_null_missing_and_out_of_range() {
        let results = vec![("r".to_string(), json!({"a": [1, null], "b": null}))];
        let r = |t: &str| resolve(&parse_reference(t).unwrap(), &results, t);
        assert_eq!(r(r#"$steps["r"].result.a[0]"#).unwrap(), json!(1));
        for bad in [
            r#"$steps["r"].result.a[1]"#,
            r#"$steps["r"].result.a[2]"#,
            r#"$steps["r"].result.c"#,
            r#"$steps["r"].result.b"#,
        ] {
            assert_eq!(
                r(bad).unwrap_err().code,
                ToolCode::RefResolveFailed,
                "{bad}"
            );
        }
    }
}
