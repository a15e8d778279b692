//! Human table output of the CLI (reads spec §7.1) and the `waylog query` table format (§7.5).
//!
//! Owns the layout only: callers choose the header text (upper-case for the listing verbs, the
//! column names as given for `waylog query`). Invariants of every rendered table:
//! - columns are left-aligned and separated by two spaces, each as wide as its widest cell,
//!   measured in `char`s (not bytes), so multibyte text lines up;
//! - no line has trailing spaces, and every line (the last included) ends with `\n`.

use serde_json::Value;

/// Renders a §7.1 table: the header row verbatim, then one line per row.
///
/// Columns are left-aligned, separated by two spaces and as wide as their widest cell in chars;
/// trailing spaces are trimmed from every line. A row shorter than the header is padded with
/// empty cells. With `dash_empty`, an empty body cell prints as `-` (header cells never do).
/// The output ends with `\n` after the last row.
pub fn render_table(headers: &[String], rows: &[Vec<String>], dash_empty: bool) -> String {
    let column_count = rows
        .iter()
        .map(Vec::len)
        .chain(std::iter::once(headers.len()))
        .max()
        .unwrap_or(0);

    let body: Vec<Vec<&str>> = rows
        .iter()
        .map(|row| {
            (0..column_count)
                .map(|i| match row.get(i).map(String::as_str) {
                    Some("") | None if dash_empty => "-",
                    Some(cell) => cell,
                    None => "",
                })
                .collect()
        })
        .collect();
    let header: Vec<&str> = (0..column_count)
        .map(|i| headers.get(i).map_or("", String::as_str))
        .collect();

    let mut widths = vec![0_usize; column_count];
    for line in std::iter::once(&header).chain(&body) {
        for (width, cell) in widths.iter_mut().zip(line) {
            *width = (*width).max(cell.chars().count());
        }
    }

    let mut out = String::new();
    for line in std::iter::once(&header).chain(&body) {
        let start = out.len();
        for (i, (cell, width)) in line.iter().zip(&widths).enumerate() {
            if i > 0 {
                out.push_str("  ");
            }
            out.push_str(cell);
            if i + 1 < column_count {
                let pad = width - cell.chars().count();
                out.extend(std::iter::repeat_n(' ', pad));
            }
        }
        // Padding, or cells that end in spaces, must not leave trailing spaces (§7.1).
        let kept = out[start..].trim_end_matches(' ').len();
        out.truncate(start + kept);
        out.push('\n');
    }
    out
}

/// The §7.5 table text of one JSON cell: null as `NULL`, strings verbatim, numbers and booleans
/// as their JSON text, arrays and objects as compact JSON.
pub fn query_cell_text(v: &Value) -> String {
    match v {
        Value::Null => "NULL".to_owned(),
        Value::String(text) => text.clone(),
        other => other.to_string(),
    }
}

/// The whole `waylog query` table output (§7.5) from a §5.5 JSON response object.
///
/// Header: the column names as given (not upper-cased); body: the rows in §7.1 style with cells
/// from [`query_cell_text`] and `-` for an empty string; then a blank line and `(<n> rows)`, or
/// `(<n> rows, truncated at limit <limit>)` when the response says `truncated`. `<n>` is the
/// response's `row_count` (the number of rows when absent), and it is `rows` even for one row,
/// as the spec writes it. Missing or mistyped members count as empty.
pub fn render_query_table(response: &Value, limit: u64) -> String {
    let headers: Vec<String> = response
        .get("columns")
        .and_then(Value::as_array)
        .map(|columns| {
            columns
                .iter()
                .map(|column| {
                    column
                        .get("name")
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                        .to_owned()
                })
                .collect()
        })
        .unwrap_or_default();
    let rows: Vec<Vec<String>> = response
        .get("rows")
        .and_then(Value::as_array)
        .map(|rows| {
            rows.iter()
                .map(|row| {
                    row.as_array()
                        .map(|cells| cells.iter().map(query_cell_text).collect())
                        .unwrap_or_default()
                })
                .collect()
        })
        .unwrap_or_default();
    let row_count = response
        .get("row_count")
        .and_then(Value::as_u64)
        .unwrap_or(rows.len() as u64);
    let truncated = response
        .get("truncated")
        .and_then(Value::as_bool)
        .unwrap_or(false);

    let mut out = render_table(&headers, &rows, true);
    out.push('\n');
    if truncated {
        out.push_str(&format!("({row_count} rows, truncated at limit {limit})\n"));
    } else {
        out.push_str(&format!("({row_count} rows)\n"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn strings(cells: &[&str]) -> Vec<String> {
        cells.iter().map(|cell| (*cell).to_owned()).collect()
    }

    #[test]
    fn render_table_aligns_columns_with_two_space_gaps() {
        let headers = strings(&["ERROR CODE", "N", "ORIGIN"]);
        let rows = vec![
            strings(&["PMT_502", "20", "payment:acquirer.charge"]),
            strings(&["DB", "3", "db"]),
        ];
        assert_eq!(
            render_table(&headers, &rows, true),
            "ERROR CODE  N   ORIGIN\n\
             PMT_502     20  payment:acquirer.charge\n\
             DB          3   db\n"
        );
    }

    #[test]
    fn render_table_measures_width_in_chars_for_multibyte_text() {
        let headers = strings(&["name", "n"]);
        let rows = vec![strings(&["größe", "1"]), strings(&["日本語", "2"])];
        let out = render_table(&headers, &rows, false);
        assert_eq!(out, "name   n\ngröße  1\n日本語    2\n");
        // The second column starts at the same char offset on every line.
        for line in out.lines() {
            let chars: Vec<char> = line.chars().collect();
            assert_eq!(chars[5..7], [' ', ' '], "gap in {line:?}");
            assert_ne!(chars[7], ' ', "misaligned {line:?}");
        }
    }

    #[test]
    fn render_table_leaves_no_trailing_spaces() {
        let headers = strings(&["A", "LONG HEADER"]);
        let rows = vec![
            strings(&["wide value", ""]),
            strings(&["x", "ends with space "]),
            strings(&["y"]),
        ];
        let out = render_table(&headers, &rows, false);
        assert_eq!(
            out,
            "A           LONG HEADER\nwide value\nx           ends with space\ny\n"
        );
        assert!(out.lines().all(|line| !line.ends_with(' ')));
    }

    #[test]
    fn render_table_prints_dash_for_empty_cells_when_asked() {
        let headers = strings(&["TRACE", "ANCHOR", "START"]);
        let rows = vec![strings(&["t1", "", "10:00"]), strings(&["t2"])];
        assert_eq!(
            render_table(&headers, &rows, true),
            "TRACE  ANCHOR  START\nt1     -       10:00\nt2     -       -\n"
        );
    }

    #[test]
    fn render_table_prints_headers_verbatim_and_only_header_without_rows() {
        let headers = strings(&["service", "count(*)"]);
        assert_eq!(render_table(&headers, &[], true), "service  count(*)\n");
    }

    #[test]
    fn query_cell_text_formats_each_json_kind() {
        assert_eq!(query_cell_text(&Value::Null), "NULL");
        assert_eq!(query_cell_text(&json!("say \"hi\"")), "say \"hi\"");
        assert_eq!(query_cell_text(&json!(42)), "42");
        assert_eq!(query_cell_text(&json!(1.5)), "1.5");
        assert_eq!(query_cell_text(&json!(true)), "true");
        assert_eq!(
            query_cell_text(&json!([{"a": "x", "b": 1}, null])),
            "[{\"a\":\"x\",\"b\":1},null]"
        );
        assert_eq!(query_cell_text(&json!({"k": [1, 2]})), "{\"k\":[1,2]}");
    }

    #[test]
    fn render_query_table_prints_rows_and_count() {
        let response = json!({
            "columns": [
                {"name": "service", "type": "Utf8", "nullable": false},
                {"name": "n", "type": "Int64", "nullable": true}
            ],
            "rows": [["checkout", 42], ["payment", null]],
            "row_count": 2, "truncated": false, "elapsed_ms": 12
        });
        assert_eq!(
            render_query_table(&response, 1000),
            "service   n\ncheckout  42\npayment   NULL\n\n(2 rows)\n"
        );
    }

    #[test]
    fn render_query_table_reports_truncation_at_limit() {
        let response = json!({
            "columns": [{"name": "x", "type": "Int64", "nullable": false}],
            "rows": [[1]],
            "row_count": 1, "truncated": true
        });
        assert_eq!(
            render_query_table(&response, 1),
            "x\n1\n\n(1 rows, truncated at limit 1)\n"
        );
    }

    #[test]
    fn render_query_table_prints_header_and_zero_rows_when_empty() {
        let response = json!({
            "columns": [{"name": "a", "type": "Utf8", "nullable": true},
                        {"name": "b", "type": "Utf8", "nullable": true}],
            "rows": [], "row_count": 0, "truncated": false
        });
        assert_eq!(render_query_table(&response, 1000), "a  b\n\n(0 rows)\n");
    }

    #[test]
    fn render_query_table_shows_nested_values_and_empty_strings() {
        let response = json!({
            "columns": [{"name": "steps", "type": "List", "nullable": true},
                        {"name": "s", "type": "Utf8", "nullable": true}],
            "rows": [[[{"a": "x"}], ""]],
            "row_count": 1, "truncated": false
        });
        assert_eq!(
            render_query_table(&response, 10),
            "steps        s\n[{\"a\":\"x\"}]  -\n\n(1 rows)\n"
        );
    }
}
