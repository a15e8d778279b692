-- trace_events: the events of the selected traces within the trace-extent bounds (spec reads
-- §3.3), handed trace by trace to the originating-failure resolution in Rust. The
-- root-cause rollup also materializes the result as the table `trace_events` for
-- rollup_code_counts.sql and rollup_code_services.sql.
--
-- Tables: traced_events, exactly the events of the request's set of selected trace ids
-- (registered with `sel`, src/query/trace_index.rs: the indexed rows, and the rows of the
-- set's traces in any source scanned without an index), so no join with `sel` is needed.
-- Parameters:
--   $1  Timestamp  extent lower bound (inclusive)
--   $2  Timestamp  extent upper bound (inclusive)
--
-- Output: trace_id, event_id, service, status Utf8; ts_start, ts_end Timestamp;
--         parent_span_id Utf8; anchor_step, anchor_error_code, http_route, user_id,
--         user_tier Utf8 null; step_span_ids List<Utf8> (the non-empty steps[].span_id in
--         array order: all of `steps` that origin resolution reads; a column of
--         traced_events, which reads only the span_id leaf of the nested steps)
-- Order: none. The caller orders the borrowed rows by trace_id, ts_start, service, event_id
--        (src/reads/trace_rows.rs `trace_order`): a sort here would copy every column again.
SELECT trace_id, event_id, service, status, ts_start, ts_end, parent_span_id,
       anchor_step, anchor_error_code, http_route, user_id, user_tier, step_span_ids
FROM traced_events
WHERE ts_start BETWEEN $1 AND $2
