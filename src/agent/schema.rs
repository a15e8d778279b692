//! The JSON Schema subset of the registry (spec reads §6.1): `type, properties, required,
//! additionalProperties, items, enum, minimum, maximum, minLength, default, description`.
//! Small builders for the tool schemas, the params check of every call ([`validate`]) and the
//! defaults it fills in ([`with_defaults`]), and the output-path walk of plan references
//! ([`path_exists`]).

use serde_json::{Map, Value, json};

/// A string property.
pub fn string(description: &str) -> Value {
    json!({"type": "string", "description": description})
}

/// A non-empty string property.
pub fn id(description: &str) -> Value {
    json!({"type": "string", "minLength": 1, "description": description})
}

/// An integer property in `[min, max]` with a default.
pub fn integer(description: &str, min: i64, max: i64, default: i64) -> Value {
    json!({"type": "integer", "minimum": min, "maximum": max, "default": default,
           "description": description})
}

/// A property of JSON type `ty` (output schemas).
pub fn of(ty: &str) -> Value {
    json!({"type": ty})
}

/// A property that may also be `null` (output schemas).
pub fn nullable(ty: &str) -> Value {
    json!({"type": [ty, "null"]})
}

/// An array of `items`.
pub fn array(items: Value) -> Value {
    json!({"type": "array", "items": items})
}

/// An input object: `additionalProperties: false`, the given properties and required names.
pub fn input(properties: Vec<(&str, Value)>, required: &[&str]) -> Value {
    let mut o = object(properties, required);
    o["additionalProperties"] = Value::Bool(false);
    o
}

/// An object with `properties` (in order) and `required` names.
pub fn object(properties: Vec<(&str, Value)>, required: &[&str]) -> Value {
    let props: Map<String, Value> = properties
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
    json!({"type": "object", "properties": props, "required": required})
}

/// An output object whose every listed property is required.
pub fn record(properties: Vec<(&str, Value)>) -> Value {
    let names: Vec<&str> = properties.iter().map(|(k, _)| *k).collect();
    object(properties, &names)
}

fn type_matches(ty: &str, v: &Value) -> bool {
    match ty {
        "string" => v.is_string(),
        "integer" => v.as_i64().is_some() || v.as_u64().is_some(),
        "number" => v.is_number(),
        "boolean" => v.is_boolean(),
        "object" => v.is_object(),
        "array" => v.is_array(),
        "null" => v.is_null(),
        _ => false,
    }
}

fn type_names(schema: &Value) -> Vec<&str> {
    match schema.get("type") {
        Some(Value::String(t)) => vec![t.as_str()],
        Some(Value::Array(ts)) => ts.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    }
}

/// Check `value` (named `at` in messages) against `schema`; the first problem is the message.
pub fn validate(schema: &Value, value: &Value, at: &str) -> Result<(), String> {
    let types = type_names(schema);
    if !types.is_empty() && !types.iter().any(|t| type_matches(t, value)) {
        return Err(format!("{at} must be {}", types.join(" or ")));
    }
    if let Some(Value::Array(allowed)) = schema.get("enum")
        && !allowed.contains(value)
    {
        let names: Vec<String> = allowed.iter().map(Value::to_string).collect();
        return Err(format!("{at} must be one of {}", names.join(", ")));
    }
    if let Some(n) = value.as_f64() {
        if let Some(min) = schema.get("minimum").and_then(Value::as_f64)
            && n < min
        {
            return Err(format!("{at} must be >= {min}"));
        }
        if let Some(max) = schema.get("maximum").and_then(Value::as_f64)
            && n > max
        {
            return Err(format!("{at} must be <= {max}"));
        }
    }
    if let (Some(s), Some(min)) = (
        value.as_str(),
        schema.get("minLength").and_then(Value::as_u64),
    ) && (s.chars().count() as u64) < min
    {
        return Err(format!("{at} must have at least {min} characters"));
    }
    if let (Some(items), Some(arr)) = (schema.get("items"), value.as_array()) {
        for (i, v) in arr.iter().enumerate() {
            validate(items, v, &format!("{at}[{i}]"))?;
        }
    }
    if let Some(obj) = value.as_object() {
        validate_object(schema, obj, at)?;
    }
    Ok(())
}

fn member(at: &str, key: &str) -> String {
    if at == "params" {
        format!("param {key:?}")
    } else {
        format!("{at}.{key}")
    }
}

fn validate_object(schema: &Value, obj: &Map<String, Value>, at: &str) -> Result<(), String> {
    let props = schema.get("properties").and_then(Value::as_object);
    if let Some(Value::Array(required)) = schema.get("required") {
        for name in required.iter().filter_map(Value::as_str) {
            if !obj.contains_key(name) {
                return Err(format!("missing required {}", member(at, name)));
            }
        }
    }
    for (key, v) in obj {
        match props.and_then(|p| p.get(key)) {
            Some(s) => validate(s, v, &member(at, key))?,
            None if schema.get("additionalProperties") == Some(&Value::Bool(false)) => {
                return Err(format!("unknown {}", member(at, key)));
            }
            None => {}
        }
    }
    Ok(())
}

/// `params` with every absent property that declares a `default` set to it.
pub fn with_defaults(schema: &Value, mut params: Map<String, Value>) -> Map<String, Value> {
    if let Some(props) = schema.get("properties").and_then(Value::as_object) {
        for (k, s) in props {
            if let Some(d) = s.get("default")
                && !params.contains_key(k)
            {
                params.insert(k.clone(), d.clone());
            }
        }
    }
    params
}

/// One segment of a reference path: `.field` or `[n]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Segment {
    Field(String),
    Index(usize),
}

/// The schema reached along `path` from `schema` (fields through `properties`, positions
/// through `items`), `None` when the path leaves it.
pub fn path_schema<'a>(schema: &'a Value, path: &[Segment]) -> Option<&'a Value> {
    let mut s = schema;
    for seg in path {
        s = match seg {
            Segment::Field(f) => s.get("properties")?.get(f)?,
            Segment::Index(_) => s.get("items")?,
        };
    }
    Some(s)
}

/// True when `path` exists in `schema`.
pub fn path_exists(schema: &Value, path: &[Segment]) -> bool {
    path_schema(schema, path).is_some()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn schema() -> Value {
        input(
            vec![
                ("sql", id("SQL")),
                ("limit", integer("rows", 1, 10, 5)),
                ("format", json!({"type": "string", "enum": ["a", "b"]})),
            ],
            &["sql"],
        )
    }

    #[test]
    fn validate_reports_required_types_enums_bounds_and_unknown_keys() {
        let s = schema();
        let check = |v: Value| validate(&s, &v, "params").err();
        assert_eq!(check(json!({"sql": "x"})), None);
        assert_eq!(check(json!({})).unwrap(), "missing required param \"sql\"");
        assert_eq!(
            check(json!({"sql": 1})).unwrap(),
            "param \"sql\" must be string"
        );
        assert_eq!(
            check(json!({"sql": ""})).unwrap(),
            "param \"sql\" must have at least 1 characters"
        );
        assert_eq!(
            check(json!({"sql": "x", "limit": 11})).unwrap(),
            "param \"limit\" must be <= 10"
        );
        assert_eq!(
            check(json!({"sql": "x", "limit": 1.5})).unwrap(),
            "param \"limit\" must be integer"
        );
        assert!(
            check(json!({"sql": "x", "format": "c"}))
                .unwrap()
                .contains("one of")
        );
        assert_eq!(
            check(json!({"sql": "x", "nope": 1})).unwrap(),
            "unknown param \"nope\""
        );
        assert_eq!(check(json!([])).unwrap(), "params must be object");
    }

    #[test]
    fn defaults_fill_only_absent_keys_and_paths_follow_the_schema() {
        let m = with_defaults(&schema(), json!({"sql": "x"}).as_object().cloned().unwrap());
        assert_eq!(m["limit"], 5);
        let out = record(vec![("top", array(record(vec![("code", of("string"))])))]);
        let p = [
            Segment::Field("top".into()),
            Segment::Index(0),
            Segment::Field("code".into()),
        ];
        assert!(path_exists(&out, &p));
        assert!(!path_exists(&out, &[Segment::Field("nope".into())]));
    }
}
