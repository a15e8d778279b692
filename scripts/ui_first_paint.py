"""First paint of the dashboard's incidents page (issue 19 target: < 200 ms on loopback with
10 M events stored), measured in headless Chromium through Playwright (system chromium via
executable_path). Used by `scripts/bench.sh ui`; prints one JSON line.

Per run, a fresh browser context (cold cache) loads /ui/incidents and reports the browser's
first-contentful-paint and the time until the incident strip holds its answer (cards or the
empty message), both from navigation start.
"""

import argparse
import json

from playwright.sync_api import sync_playwright

STRIP_READY = """() => {
  const s = document.querySelector('#incident-strip');
  return s && s.children.length > 0 ? performance.now() : null;
}"""


def percentile(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, max(0, round(p * (len(values) - 1))))]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--url", required=True)
    ap.add_argument("--chromium", required=True)
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args()
    fcp, strip = [], []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=args.chromium, headless=True, args=["--no-sandbox"])
        for _ in range(args.runs):
            context = browser.new_context()
            page = context.new_page()
            page.goto(args.url.rstrip("/") + "/ui/incidents")
            strip.append(page.wait_for_function(STRIP_READY, timeout=60000).json_value())
            fcp.append(page.evaluate(
                "() => (performance.getEntriesByName('first-contentful-paint')[0] || {}).startTime || null"
            ))
            context.close()
        browser.close()
    fcp = [v for v in fcp if v is not None]
    print(json.dumps({"ui_first_paint": {
        "runs": args.runs,
        "first_contentful_paint_ms": {"p50": round(percentile(fcp, 0.5), 1), "max": round(max(fcp), 1)} if fcp else None,
        "incident_strip_ms": {"p50": round(percentile(strip, 0.5), 1), "max": round(max(strip), 1)},
    }}))


if __name__ == "__main__":
    main()
