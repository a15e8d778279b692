"""Browser peer of tests/integration/ui.rs: drives the embedded dashboard (/ui) in headless
Chromium through Playwright, pointed at the system chromium (no browser download).

Modes:
  demo  against `waylog demo` after a burst: the incident card appears, its detail opens with
        the TriageReport hash, the render buttons answer, Errors draws sparklines and the root
        cause chart, Explain marks the origin, blast radius / traces / search list rows, the SQL
        box returns rows and a CSV; a screenshot per screen (light, plus the incidents strip in
        dark mode).
  auth  against a server whose read scope is closed: the page asks for the key, keeps it in
        sessionStorage only, and shows the (empty) incident strip with it.

Prints one JSON object on stdout with what it saw (the Rust test asserts on it): console
errors and page errors per screen, ids, hashes, counts and the screenshot paths.
"""

import argparse
import json
import os
import sys
import time

from playwright.sync_api import sync_playwright

FAMILY = "checkout:payment.charge:PMT_502"


def parse_args():
    p = argparse.ArgumentParser()
    p.add_argument("--url", required=True, help="waylog base URL, http://127.0.0.1:PORT")
    p.add_argument("--chromium", required=True, help="path of the chromium executable")
    p.add_argument("--out", required=True, help="folder for the screenshots")
    p.add_argument("--mode", choices=["demo", "auth"], required=True)
    p.add_argument("--key", default="", help="auth mode: the read key to type")
    p.add_argument("--timeout-ms", type=int, default=90000)
    return p.parse_args()


class Session:
    """One page with console and page errors recorded per screen."""

    def __init__(self, page, out):
        self.page = page
        self.out = out
        self.screen = "start"
        self.errors = {}
        self.shots = []
        page.on("console", self._console)
        page.on("pageerror", lambda e: self._record("pageerror: " + str(e)))

    def _console(self, msg):
        if msg.type == "error":
            self._record(msg.text)

    def _record(self, text):
        self.errors.setdefault(self.screen, []).append(text)

    def visit(self, screen, path):
        self.screen = screen
        self.page.goto(self.base + path)

    def shot(self, name):
        path = os.path.join(self.out, name + ".png")
        self.page.screenshot(path=path, full_page=False)
        self.shots.append(path)


def demo(s, timeout):
    page = s.page
    found = {}
    # Incidents: the card of the demo's family appears (the strip polls every few seconds).
    s.visit("incidents", "/ui/incidents")
    card = page.locator(".card[data-incident-id]", has_text=FAMILY).first
    card.wait_for(timeout=timeout)
    found["incident_id"] = card.get_attribute("data-incident-id")
    found["card_text"] = card.inner_text()
    page.locator("#resolved").wait_for()
    s.shot("incidents")
    page.emulate_media(color_scheme="dark")
    s.shot("incidents-dark")
    page.emulate_media(color_scheme="light")

    # Incident detail: opened from the card (client route), report hash shown.
    s.screen = "incident"
    card.click()
    page.wait_for_url("**/ui/incidents/" + found["incident_id"], timeout=timeout)
    page.locator("#report-hash").wait_for(timeout=timeout)
    page.locator("#evidence li").first.wait_for(timeout=timeout)
    found["report_hash"] = page.locator("#report-hash").inner_text()
    found["evidence_items"] = page.locator("#evidence li").count()
    found["next_checks"] = page.locator("#next-checks li").count()
    found["dimension_bars"] = page.locator("#suspect-dimensions rect").count()
    found["dimensions_text"] = page.locator("#suspect-dimensions-panel").inner_text()
    found["sample_traces"] = [
        a.inner_text() for a in page.locator("#sample-traces a.mono").all()
    ]
    s.shot("incident")
    renders = {}
    for button, fmt in [("#render-pagerduty", "pagerduty"), ("#render-slack", "slack"), ("#copy-markdown", "markdown")]:
        page.click(button)
        page.locator(f"#render-output[data-format='{fmt}']").wait_for(timeout=timeout)
        renders[fmt] = page.locator("#render-output").inner_text()
    found["renders"] = renders
    page.locator("#report").scroll_into_view_if_needed()
    s.shot("incident-report")

    # Errors: families with a sparkline each, and the root cause vs propagated chart.
    s.visit("errors", "/ui/errors?window=1h")
    page.locator("#families table").wait_for(timeout=timeout)
    page.locator("#rollup svg").wait_for(timeout=timeout)
    found["family_rows"] = page.locator("#families tbody tr").count()
    found["sparklines"] = page.locator("#families svg.spark").count()
    found["families_text"] = page.locator("#families").inner_text()
    found["rollup_text"] = page.locator("#rollup").inner_text()
    s.shot("errors")

    # Explain: the first sample trace, origin marked, propagated hops marked.
    trace = found["sample_traces"][0] if found["sample_traces"] else ""
    s.visit("explain", "/ui/explain/" + trace)
    page.locator("#origin-mark").wait_for(timeout=timeout)
    found["explain_trace"] = trace
    found["origin_text"] = page.locator("#origin-mark").inner_text()
    found["origin_event_id"] = page.locator(".wf-row[data-origin='true']").get_attribute("data-event-id")
    found["propagated_marks"] = page.locator(".mark.propagated").count()
    found["waterfall_rows"] = page.locator("#waterfall .wf-row").count()
    s.shot("explain")

    # Blast radius, recent traces, search.
    s.visit("blast", "/ui/blast?window=1h&error_family=" + FAMILY)
    page.locator("#affected-requests").wait_for(timeout=timeout)
    found["blast_requests"] = int(page.locator("#affected-requests").inner_text())
    s.shot("blast")
    s.visit("traces", "/ui/traces")
    page.locator("#traces tbody tr").first.wait_for(timeout=timeout)
    found["trace_rows"] = page.locator("#traces tbody tr").count()
    s.shot("traces")
    s.visit("search", "/ui/search?error_code=PMT_502")
    page.locator("#search tbody tr").first.wait_for(timeout=timeout)
    found["search_rows"] = page.locator("#search tbody tr").count()
    s.shot("search")

    # SQL: rows in the table, then the CSV download of the same statement.
    s.visit("sql", "/ui/sql")
    page.fill("#sql-input", "SELECT service, count(*) AS n FROM events GROUP BY service ORDER BY service")
    page.click("#sql-run")
    page.locator("#sql-summary").wait_for(timeout=timeout)
    found["sql_rows"] = page.locator("#sql-result tbody tr").count()
    found["sql_first_row"] = page.locator("#sql-result tbody tr").first.inner_text()
    with page.expect_download(timeout=timeout) as dl:
        page.click("#sql-csv")
    csv_path = os.path.join(s.out, "query.csv")
    dl.value.save_as(csv_path)
    with open(csv_path, encoding="utf-8") as f:
        found["csv"] = f.read()
    s.shot("sql")

    # An API error is shown inline with its code (a statement that is not allowed).
    s.screen = "sql-error"
    page.fill("#sql-input", "DROP TABLE events")
    page.click("#sql-run")
    page.locator("#sql-result .error").wait_for(timeout=timeout)
    found["sql_error"] = page.locator("#sql-result .error").inner_text()
    return found


def auth(s, key, timeout):
    page = s.page
    found = {}
    s.visit("auth", "/ui/incidents")
    page.locator("#key-dialog[open]").wait_for(timeout=timeout)
    found["prompted"] = True
    s.shot("auth-prompt")
    page.fill("#key-input", key)
    page.click("#key-ok")
    page.locator("#no-incidents").wait_for(timeout=timeout)
    found["strip_text"] = page.locator("#incident-strip").inner_text()
    found["stored_key"] = page.evaluate("sessionStorage.getItem('waylog.readKey')")
    found["local_storage_keys"] = page.evaluate("Object.keys(localStorage)")
    found["url"] = page.url
    # Another screen in the same tab: the stored key is used, no second prompt.
    s.visit("auth-again", "/ui/errors")
    page.locator("#families").wait_for(timeout=timeout)
    # A function, not an expression: Playwright evaluates expressions with eval, which the
    # page's Content-Security-Policy forbids.
    page.wait_for_function(
        "() => !document.querySelector('#families').innerText.includes('Loading')", timeout=timeout
    )
    found["prompted_again"] = page.locator("#key-dialog[open]").count() > 0
    found["families_text"] = page.locator("#families").inner_text()
    s.shot("auth-after-key")
    return found


def main():
    args = parse_args()
    os.makedirs(args.out, exist_ok=True)
    started = time.time()
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=args.chromium,
            headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"],
        )
        context = browser.new_context(viewport={"width": 1180, "height": 760}, accept_downloads=True)
        page = context.new_page()
        s = Session(page, args.out)
        s.base = args.url.rstrip("/")
        try:
            if args.mode == "demo":
                found = demo(s, args.timeout_ms)
            else:
                found = auth(s, args.key, args.timeout_ms)
        except Exception as e:  # report what was seen so far, then fail
            s.shot("failure")
            print(json.dumps({"failed": str(e), "console_errors": s.errors, "screenshots": s.shots}))
            sys.exit(1)
        found["console_errors"] = s.errors
        found["screenshots"] = s.shots
        found["elapsed_s"] = round(time.time() - started, 1)
        browser.close()
    print(json.dumps(found))


if __name__ == "__main__":
    main()
