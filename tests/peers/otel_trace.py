#!/usr/bin/env python3
"""A real OpenTelemetry peer: the official Python SDK exports one three-service trace to waylog.

usage: otel_trace.py --exporter http|grpc --endpoint URL [--write-key KEY] [--seed N]
                     [--compression none|gzip]

  http: URL is the full traces URL (http://127.0.0.1:8080/v1/traces); OTLP/HTTP protobuf.
  grpc: URL is the gRPC listener (http://127.0.0.1:4317), plaintext.

The trace is a failed purchase (spec/events.md §4; the shape of tests/fixtures/otlp):

  gateway  SERVER POST /purchase                 502, ERROR
  checkout SERVER POST /checkout  (parent: gateway)       502, ERROR
  checkout CLIENT POST            (parent: checkout SERVER) 502, ERROR, calls payment
  payment  SERVER POST /charge    (parent: checkout CLIENT) 502, ERROR + `exception` event

Every service has its own TracerProvider and Resource (`service.name`, `service.version`,
`deployment.environment`), as three processes would; the hops are linked the way real services
link them, through a W3C `traceparent` header injected by the caller and extracted by the callee.
Attributes follow the stable HTTP semantic conventions.

Ids come from a seeded IdGenerator, so two runs with the same seed export spans with the same
trace and span ids (and waylog derives the same event ids from them: a re-run deduplicates).
The ids are drawn in span-creation order, which is fixed: the run is single-threaded.

Prints `trace_id=<32 hex>` on success. Exits 1 when any export failed (the exporter's result,
not just a log line), 2 on bad arguments.
"""

import argparse
import random
import sys

from opentelemetry import propagate
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import (
    BatchSpanProcessor,
    SpanExporter,
    SpanExportResult,
)
from opentelemetry.sdk.trace.id_generator import IdGenerator
from opentelemetry.trace import SpanKind, Status, StatusCode

SERVICES = {
    # service -> (service.version, deployment.environment)
    "gateway": ("1.8.2", "prod"),
    "checkout": ("2.14.0", "prod"),
    "payment": ("3.2.1", "prod"),
}


class SeededIdGenerator(IdGenerator):
    """Deterministic ids from one seeded stream, shared by every provider of the run."""

    def __init__(self, seed: int) -> None:
        self._rng = random.Random(seed)

    def _nonzero(self, bits: int) -> int:
        while True:
            value = self._rng.getrandbits(bits)
            if value:
                return value

    def generate_span_id(self) -> int:
        return self._nonzero(64)

    def generate_trace_id(self) -> int:
        return self._nonzero(128)


class RecordingExporter(SpanExporter):
    """Delegates to the real OTLP exporter and remembers whether every export succeeded.

    The batch processor only logs a failed export; the test needs it as an exit status.
    """

    def __init__(self, inner: SpanExporter) -> None:
        self.inner = inner
        self.exported = 0
        self.failures = 0

    def export(self, spans):
        result = self.inner.export(spans)
        if result == SpanExportResult.SUCCESS:
            self.exported += len(spans)
        else:
            self.failures += 1
        return result

    def shutdown(self):
        self.inner.shutdown()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return self.inner.force_flush(timeout_millis)


class PaymentGatewayError(Exception):
    """What the payment service raises when its acquirer answers 502."""


# `exception.type` is `<module>.<qualname>`; as a script this module is `__main__`, which would
# leak into the error code. Name it as the payment service's own module would be named.
PaymentGatewayError.__module__ = "payment.acquirer"


def make_exporter(args) -> SpanExporter:
    headers = {"authorization": f"Bearer {args.write_key}"} if args.write_key else {}
    if args.exporter == "http":
        from opentelemetry.exporter.otlp.proto.http import Compression
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        compression = Compression.Gzip if args.compression == "gzip" else Compression.NoCompression
        return OTLPSpanExporter(
            endpoint=args.endpoint, headers=headers, timeout=10, compression=compression
        )
    from grpc import Compression
    from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter

    compression = Compression.Gzip if args.compression == "gzip" else Compression.NoCompression
    return OTLPSpanExporter(
        endpoint=args.endpoint,
        insecure=True,
        headers=headers,
        timeout=10,
        compression=compression,
    )


def make_provider(service: str, ids: IdGenerator, args) -> tuple[TracerProvider, RecordingExporter]:
    version, env = SERVICES[service]
    resource = Resource.create(
        {
            "service.name": service,
            "service.version": version,
            "deployment.environment": env,
        }
    )
    exporter = RecordingExporter(make_exporter(args))
    provider = TracerProvider(resource=resource, id_generator=ids)
    provider.add_span_processor(BatchSpanProcessor(exporter))
    return provider, exporter


def run(args) -> int:
    ids = SeededIdGenerator(args.seed)
    providers = {s: make_provider(s, ids, args) for s in SERVICES}
    tracers = {
        s: p.get_tracer(f"waylog-test-peer.{s}", "0.1.0") for s, (p, _) in providers.items()
    }

    def payment_charge(headers: dict) -> int:
        parent = propagate.extract(headers)
        with tracers["payment"].start_as_current_span(
            "POST /charge",
            context=parent,
            kind=SpanKind.SERVER,
            attributes={
                "http.request.method": "POST",
                "http.route": "/charge",
                "url.path": "/charge",
                "url.scheme": "http",
                "server.address": "payment",
                "server.port": 8080,
            },
        ) as span:
            try:
                raise PaymentGatewayError("acquirer returned 502")
            except PaymentGatewayError as exc:
                # What an instrumented handler does with an exception it turns into a 502.
                span.record_exception(exc)
                span.set_status(Status(StatusCode.ERROR, f"{type(exc).__name__}: {exc}"))
                span.set_attribute("error.type", "payment.acquirer.PaymentGatewayError")
                span.set_attribute("http.response.status_code", 502)
                return 502

    def checkout_checkout(headers: dict) -> int:
        parent = propagate.extract(headers)
        tracer = tracers["checkout"]
        with tracer.start_as_current_span(
            "POST /checkout",
            context=parent,
            kind=SpanKind.SERVER,
            attributes={
                "http.request.method": "POST",
                "http.route": "/checkout",
                "url.path": "/checkout",
                "url.scheme": "http",
            },
        ) as server_span:
            with tracer.start_as_current_span(
                "POST",
                kind=SpanKind.CLIENT,
                attributes={
                    "http.request.method": "POST",
                    "server.address": "payment",
                    "server.port": 8080,
                    "url.full": "http://payment:8080/charge",
                },
            ) as client_span:
                outbound: dict = {}
                propagate.inject(outbound)
                code = payment_charge(outbound)
                client_span.set_attribute("http.response.status_code", code)
                client_span.set_attribute("error.type", str(code))
                client_span.set_status(Status(StatusCode.ERROR, "payment returned 502"))
            server_span.set_attribute("http.response.status_code", 502)
            server_span.set_status(Status(StatusCode.ERROR))
            return 502

    gateway = tracers["gateway"]
    with gateway.start_as_current_span(
        "POST /purchase",
        kind=SpanKind.SERVER,
        attributes={
            "http.request.method": "POST",
            "http.route": "/purchase",
            "url.path": "/purchase",
            "url.scheme": "https",
        },
    ) as root:
        trace_id = format(root.get_span_context().trace_id, "032x")
        outbound: dict = {}
        propagate.inject(outbound)
        code = checkout_checkout(outbound)
        root.set_attribute("http.response.status_code", code)
        root.set_status(Status(StatusCode.ERROR))

    flushed = True
    for provider, _ in providers.values():
        flushed = provider.force_flush(timeout_millis=30000) and flushed
        provider.shutdown()
    exported = sum(e.exported for _, e in providers.values())
    failures = sum(e.failures for _, e in providers.values())
    if not flushed or failures or exported != 4:
        print(
            f"export failed: flushed={flushed} failed_exports={failures} exported_spans={exported}",
            file=sys.stderr,
        )
        return 1
    print(f"trace_id={trace_id}")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--exporter", choices=["http", "grpc"], required=True)
    parser.add_argument("--endpoint", required=True)
    parser.add_argument("--write-key", default="")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--compression", choices=["none", "gzip"], default="none")
    return run(parser.parse_args())


if __name__ == "__main__":
    sys.exit(main())
