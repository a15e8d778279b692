use datafusion::prelude::SessionContext;

use super::*;

/// A bare session with the capped functions at `max` bytes.
fn ctx(max: usize) -> SessionContext {
    let ctx = SessionContext::new();
    register(&ctx, max);
    ctx
}

async fn run(ctx: &SessionContext, sql: &str) -> Result<usize> {
    let batches = ctx.sql(sql).await?.collect().await?;
    Ok(batches.iter().map(|b| b.num_rows()).sum())
}

async fn refused(ctx: &SessionContext, sql: &str) -> String {
    match run(ctx, sql).await {
        Ok(_) => panic!("{sql} was not refused"),
        Err(e) => e.to_string(),
    }
}

#[tokio::test]
async fn growing_functions_are_refused_past_the_cap() {
    let c = ctx(1 << 20);
    for sql in [
        "SELECT repeat('x', 2000000000)",
        "SELECT repeat('abc', 400000)",
        "SELECT lpad('x', 300000)",
        "SELECT rpad('x', 300000, 'é')",
        "SELECT array_repeat('abcdefgh', 200000)",
        "SELECT range(1000000000)",
        "SELECT generate_series(1, 1000000000)",
        "SELECT range(-500000000, 500000000, 1)",
        // Column arguments are estimated per batch too.
        "SELECT repeat(s, n) FROM (VALUES ('xy', 1), ('x', 600000)) AS t(s, n)",
    ] {
        let e = refused(&c, sql).await;
        assert!(e.contains("WAYLOG_QUERY_MAX_VALUE_BYTES"), "{sql}: {e}");
    }
}

#[tokio::test]
async fn ordinary_calls_still_work() {
    let c = ctx(1 << 20);
    for sql in [
        "SELECT repeat('ab', 3) AS v",
        "SELECT lpad('7', 3, '0'), rpad('a', 4)",
        "SELECT array_repeat(1, 5)",
        "SELECT range(10), generate_series(1, 10, 2), range(10, 0, -1)",
        "SELECT repeat(s, n) FROM (VALUES ('xy', 2), (NULL, 3), ('z', NULL)) AS t(s, n)",
        "SELECT repeat('x', -5)",
        "SELECT range(DATE '2026-01-01', DATE '2026-01-05', INTERVAL '1 day')",
    ] {
        let rows = run(&c, sql).await.unwrap_or_else(|e| panic!("{sql}: {e}"));
        assert!(rows > 0, "{sql}");
    }
    let batches = c
        .sql("SELECT repeat('ab', 3) AS v, length(lpad('7', 3, '0')) AS n")
        .await
        .unwrap()
        .collect()
        .await
        .unwrap();
    let v = datafusion::arrow::util::pretty::pretty_format_batches(&batches)
        .unwrap()
        .to_string();
    assert!(v.contains("ababab") && v.contains("| 3 "), "{v}");
}
