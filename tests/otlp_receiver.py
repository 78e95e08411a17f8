"""A loopback OTLP/HTTP receiver for end-to-end tests.

End-to-end tests export spans over real OTLP/HTTP (protobuf, optionally gzip/deflate compressed, or JSON) to an
:class:`OtlpReceiver` instead of using in-memory exporters, so that the exact bytes leaving the process, the HTTP
headers, the compression and the exporter's behaviour against a slow, failing or absent backend are all exercised.

The receiver is a stdlib :class:`http.server.ThreadingHTTPServer` bound to ``127.0.0.1`` on a free port and served
from a daemon thread::

    with OtlpReceiver() as rx:
        exporter = OTLPSpanExporter(endpoint=rx.traces_endpoint, timeout=2)
        ...
        spans = rx.wait_for_spans(2)

Endpoints:

* ``POST /v1/traces`` decodes an ``ExportTraceServiceRequest`` (``application/x-protobuf`` or ``application/json``
  in the protobuf JSON mapping, where ids are base64), honouring ``Content-Encoding: gzip``/``deflate``. A malformed
  body is answered with 400 and recorded with ``error`` set.
* ``PUT /v1/media/<id>`` stores a body (201 when new, 200 when replaced); ``GET /v1/media/<id>`` returns it or 404.
  :attr:`OtlpReceiver.media_status` (a non-2xx status is answered without storing, with ``Retry-After`` when
  :attr:`OtlpReceiver.media_retry_after` is set) and :attr:`OtlpReceiver.media_delay` control ``PUT``.
* ``POST /v1/metrics`` decodes an ``ExportMetricsServiceRequest`` (protobuf or JSON, compressed as above) into
  :attr:`OtlpReceiver.metrics` (one :class:`ReceivedMetric` per metric per request); always answered 200.
* Anything else is answered with 404.

Behaviour controls, thread-safe and changeable at any time, apply to ``POST /v1/traces``: :attr:`OtlpReceiver.status`
(the status answered; with a non-2xx status the spans are counted in :attr:`OtlpReceiver.rejected` and not kept in
:attr:`OtlpReceiver.spans`) and :attr:`OtlpReceiver.delay` (seconds to wait before answering, interrupted by
:meth:`OtlpReceiver.stop`, which then drops the connection without an answer).

:meth:`OtlpReceiver.stop` closes the listening socket, so a later connection is refused ("backend down");
:meth:`OtlpReceiver.start` after a stop binds the same port again ("backend back").
"""

from __future__ import annotations

import functools
import gzip
import logging
import threading
import time
import zlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, TypeVar
from urllib.parse import urlsplit

from google.protobuf import json_format
from google.protobuf.message import DecodeError
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
    ExportMetricsServiceResponse,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.trace.v1.trace_pb2 import Span, Status

__all__ = ["OtlpReceiver", "ReceivedMetric", "ReceivedPoint", "ReceivedRequest", "ReceivedSpan"]

_logger = logging.getLogger(__name__)
_E = TypeVar("_E", bound=int)

TRACES_PATH = "/v1/traces"
METRICS_PATH = "/v1/metrics"
MEDIA_PREFIX = "/v1/media/"
_MAX_BODY = 64 * 1024 * 1024
_DELAY_POLL = 0.05
_STOP_GRACE = 0.5
_PROTOBUF = "application/x-protobuf"
_JSON = "application/json"
_TEXT = "text/plain; charset=utf-8"


@dataclass(frozen=True)
class ReceivedRequest:
    """One HTTP request the receiver handled.

    Attributes:
        method: The HTTP method.
        path: The request target as sent (including any query string).
        headers: Header names lower-cased; repeated headers joined with ``", "``.
        raw_body: The body bytes exactly as received (before decompression).
        body: The decompressed body bytes (equal to ``raw_body`` without ``Content-Encoding``; empty when
            decompression failed).
        status: The status answered, or 0 when :meth:`OtlpReceiver.stop` interrupted a delay and the connection was
            dropped without an answer.
        error: Why the request was refused (malformed body, unsupported encoding, ...), else ``None``.
    """

    method: str
    path: str
    headers: dict[str, str]
    raw_body: bytes
    body: bytes
    status: int
    error: str | None = None


@dataclass(frozen=True)
class ReceivedSpan:
    """A span decoded from an ``ExportTraceServiceRequest``.

    Attributes:
        name: The span name.
        kind: The SpanKind name without its prefix, e.g. ``"CLIENT"`` or ``"INTERNAL"``.
        trace_id: Lower-case hex trace id.
        span_id: Lower-case hex span id.
        parent_span_id: Lower-case hex parent span id, or ``None`` for a root span.
        attributes: Span attributes with decoded values.
        status_code: The status code name without its prefix: ``"UNSET"``, ``"OK"`` or ``"ERROR"``.
        status_message: The status description.
        events: ``(name, attributes)`` per span event, in order.
        start_time_unix_nano: Start time.
        end_time_unix_nano: End time.
        resource_attributes: Attributes of the span's resource.
        scope_name: Instrumentation scope name.
        scope_version: Instrumentation scope version.
        scope_schema_url: Schema URL of the scope spans.
        resource_schema_url: Schema URL of the resource spans.
    """

    name: str
    kind: str
    trace_id: str
    span_id: str
    parent_span_id: str | None
    attributes: dict[str, Any]
    status_code: str
    status_message: str
    events: list[tuple[str, dict[str, Any]]]
    start_time_unix_nano: int
    end_time_unix_nano: int
    resource_attributes: dict[str, Any]
    scope_name: str
    scope_version: str
    scope_schema_url: str
    resource_schema_url: str


@dataclass(frozen=True)
class ReceivedPoint:
    """One data point of a received metric (histogram fields are empty/zero for sums and gauges).

    Attributes:
        attributes: The point's attributes.
        value: A sum's or gauge's value; a histogram's sum.
        count: A histogram's count (0 otherwise).
        bucket_counts: A histogram's bucket counts.
        explicit_bounds: A histogram's bucket boundaries.
    """

    attributes: dict[str, Any]
    value: float
    count: int = 0
    bucket_counts: tuple[int, ...] = ()
    explicit_bounds: tuple[float, ...] = ()


@dataclass(frozen=True)
class ReceivedMetric:
    """A metric decoded from an ``ExportMetricsServiceRequest``.

    Attributes:
        name: The metric name.
        unit: Its unit.
        description: Its description.
        kind: ``histogram``, ``sum`` or ``gauge``.
        monotonic: For sums, whether the sum is monotonic.
        points: Its data points.
        scope_name: Instrumentation scope name.
        scope_schema_url: Schema URL of the scope metrics.
        resource_attributes: Attributes of the resource.
    """

    name: str
    unit: str
    description: str
    kind: str
    monotonic: bool
    points: list[ReceivedPoint]
    scope_name: str
    scope_schema_url: str
    resource_attributes: dict[str, Any]


def _decode_metrics(request: ExportMetricsServiceRequest) -> list[ReceivedMetric]:
    decoded: list[ReceivedMetric] = []
    for resource_metrics in request.resource_metrics:
        resource_attributes = _attributes(resource_metrics.resource.attributes)
        for scope_metrics in resource_metrics.scope_metrics:
            for metric in scope_metrics.metrics:
                kind = metric.WhichOneof("data") or ""
                points: list[ReceivedPoint] = []
                monotonic = False
                if kind == "histogram":
                    for hp in metric.histogram.data_points:
                        points.append(
                            ReceivedPoint(
                                _attributes(hp.attributes),
                                hp.sum,
                                hp.count,
                                tuple(hp.bucket_counts),
                                tuple(hp.explicit_bounds),
                            )
                        )
                elif kind in ("sum", "gauge"):
                    data = metric.sum if kind == "sum" else metric.gauge
                    monotonic = kind == "sum" and metric.sum.is_monotonic
                    for np in data.data_points:
                        number = np.as_double if np.WhichOneof("value") == "as_double" else float(np.as_int)
                        points.append(ReceivedPoint(_attributes(np.attributes), number))
                decoded.append(
                    ReceivedMetric(
                        name=metric.name,
                        unit=metric.unit,
                        description=metric.description,
                        kind=kind,
                        monotonic=monotonic,
                        points=points,
                        scope_name=scope_metrics.scope.name,
                        scope_schema_url=scope_metrics.schema_url,
                        resource_attributes=dict(resource_attributes),
                    )
                )
    return decoded


class _BadRequest(Exception):
    """A request body that cannot be decoded; answered with ``status``."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def _any_value(value: AnyValue) -> Any:
    which = value.WhichOneof("value")
    if which == "string_value":
        return value.string_value
    if which == "bool_value":
        return value.bool_value
    if which == "int_value":
        return value.int_value
    if which == "double_value":
        return value.double_value
    if which == "bytes_value":
        return value.bytes_value
    if which == "array_value":
        return [_any_value(v) for v in value.array_value.values]
    if which == "kvlist_value":
        return _attributes(value.kvlist_value.values)
    return None


def _attributes(pairs: Iterable[KeyValue]) -> dict[str, Any]:
    return {kv.key: _any_value(kv.value) for kv in pairs}


def _enum_name(name_of: Callable[[_E], str], value: _E, prefix: str) -> str:
    try:
        name = name_of(value)
    except ValueError:
        return str(value)
    return name.removeprefix(prefix)


def _decode_spans(request: ExportTraceServiceRequest) -> list[ReceivedSpan]:
    spans: list[ReceivedSpan] = []
    for resource_spans in request.resource_spans:
        resource_attributes = _attributes(resource_spans.resource.attributes)
        for scope_spans in resource_spans.scope_spans:
            for span in scope_spans.spans:
                spans.append(
                    ReceivedSpan(
                        name=span.name,
                        kind=_enum_name(Span.SpanKind.Name, span.kind, "SPAN_KIND_"),
                        trace_id=span.trace_id.hex(),
                        span_id=span.span_id.hex(),
                        parent_span_id=span.parent_span_id.hex() or None,
                        attributes=_attributes(span.attributes),
                        status_code=_enum_name(Status.StatusCode.Name, span.status.code, "STATUS_CODE_"),
                        status_message=span.status.message,
                        events=[(event.name, _attributes(event.attributes)) for event in span.events],
                        start_time_unix_nano=span.start_time_unix_nano,
                        end_time_unix_nano=span.end_time_unix_nano,
                        resource_attributes=dict(resource_attributes),
                        scope_name=scope_spans.scope.name,
                        scope_version=scope_spans.scope.version,
                        scope_schema_url=scope_spans.schema_url,
                        resource_schema_url=resource_spans.schema_url,
                    )
                )
    return spans


def _decompress(raw: bytes, encoding: str) -> bytes:
    encoding = encoding.strip().lower()
    try:
        if encoding in ("", "identity"):
            return raw
        if encoding == "gzip":
            return gzip.decompress(raw)
        if encoding == "deflate":
            try:
                return zlib.decompress(raw)
            except zlib.error:
                return zlib.decompress(raw, -zlib.MAX_WBITS)  # raw deflate stream without zlib header
    except (OSError, EOFError, zlib.error) as error:
        raise _BadRequest(400, f"cannot decode {encoding} body: {error}") from error
    raise _BadRequest(415, f"unsupported content-encoding: {encoding!r}")


def _parse_export_request(body: bytes, content_type: str) -> ExportTraceServiceRequest:
    media_type = content_type.split(";", 1)[0].strip().lower()
    if media_type == _PROTOBUF:
        try:
            return ExportTraceServiceRequest.FromString(body)
        except DecodeError as error:
            raise _BadRequest(400, f"malformed protobuf ExportTraceServiceRequest: {error}") from error
    if media_type == _JSON:
        try:
            return json_format.Parse(body, ExportTraceServiceRequest())
        except (json_format.ParseError, ValueError) as error:
            raise _BadRequest(400, f"malformed JSON ExportTraceServiceRequest: {error}") from error
    raise _BadRequest(415, f"unsupported content-type: {content_type!r}")


def _pairs_to_headers(pairs: Iterable[tuple[str, str]]) -> dict[str, str]:
    headers: dict[str, str] = {}
    for name, value in pairs:
        key = name.lower()
        headers[key] = f"{headers[key]}, {value}" if key in headers else value
    return headers


@dataclass(frozen=True)
class _Answer:
    status: int
    content_type: str
    body: bytes
    retry_after: str | None = None


class _Handler(BaseHTTPRequestHandler):
    """Reads one request, lets the receiver decide, writes the answer (HTTP/1.0: one request per connection)."""

    server_version = "OtlpReceiver/1.0"
    timeout = 10.0  # a stalled client cannot pin a handler thread forever

    def __init__(self, request: Any, client_address: Any, server: Any, *, receiver: OtlpReceiver) -> None:
        self._receiver = receiver
        super().__init__(request, client_address, server)

    def log_message(self, format: str, *args: Any) -> None:
        _logger.debug("%s - %s", self.address_string(), format % args)

    def do_GET(self) -> None:
        self._dispatch()

    def do_POST(self) -> None:
        self._dispatch()

    def do_PUT(self) -> None:
        self._dispatch()

    def do_DELETE(self) -> None:
        self._dispatch()

    def do_PATCH(self) -> None:
        self._dispatch()

    def do_OPTIONS(self) -> None:
        self._dispatch()

    def do_HEAD(self) -> None:
        self._dispatch()

    def _read_body(self) -> bytes:
        length_header = self.headers.get("Content-Length")
        if length_header is None:
            if self.command in ("POST", "PUT", "PATCH"):
                raise _BadRequest(411, "Content-Length required")
            return b""
        try:
            length = int(length_header)
        except ValueError as error:
            raise _BadRequest(400, f"invalid Content-Length: {length_header!r}") from error
        if length < 0:
            raise _BadRequest(400, f"invalid Content-Length: {length_header!r}")
        if length > _MAX_BODY:
            raise _BadRequest(413, f"body of {length} bytes exceeds {_MAX_BODY}")
        body = self.rfile.read(length)
        if len(body) != length:
            raise _BadRequest(400, f"truncated body: got {len(body)} of {length} bytes")
        return body

    def _dispatch(self) -> None:
        self.close_connection = True
        headers = _pairs_to_headers(self.headers.items())
        answer = self._receiver._handle(self.command, self.path, headers, self._read_body)
        if answer is None:
            return  # stopped while delaying: drop the connection without an answer
        try:
            self.send_response(answer.status)
            self.send_header("Content-Type", answer.content_type)
            self.send_header("Content-Length", str(len(answer.body)))
            if answer.retry_after is not None:
                self.send_header("Retry-After", answer.retry_after)
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(answer.body)
        except OSError:
            _logger.debug("client went away before the answer was written", exc_info=True)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False

    def handle_error(self, request: Any, client_address: Any) -> None:
        _logger.debug("error while handling a request from %s", client_address, exc_info=True)


class OtlpReceiver:
    """A loopback OTLP/HTTP trace receiver recording requests and decoded spans (see the module docstring)."""

    def __init__(self, *, status: int = 200, delay: float = 0.0) -> None:
        """Create a stopped receiver; :meth:`start` it or use it as a context manager.

        Args:
            status: Initial status answered for ``POST /v1/traces``.
            delay: Initial delay in seconds before answering ``POST /v1/traces``.
        """
        self._cond = threading.Condition()
        self._status = status
        self._delay = delay
        self._requests: list[ReceivedRequest] = []
        self._spans: list[ReceivedSpan] = []
        self._rejected: list[ReceivedSpan] = []
        self._metrics: list[ReceivedMetric] = []
        self._media: dict[str, tuple[bytes, str]] = {}
        self._media_status = 0  # 0: the normal 201/200
        self._media_delay = 0.0
        self._media_retry_after: str | None = None
        self._in_flight = 0
        self._port = 0
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._stop_event = threading.Event()

    # -- lifecycle -------------------------------------------------------------------------------------------------

    def start(self) -> OtlpReceiver:
        """Bind ``127.0.0.1`` (the previous port after a :meth:`stop`, else a free one) and serve in a daemon thread.

        Returns:
            The receiver itself.

        Raises:
            RuntimeError: When already started.
        """
        with self._cond:
            if self._server is not None:
                raise RuntimeError("OtlpReceiver already started")
            self._stop_event = threading.Event()
            server = _Server(("127.0.0.1", self._port), functools.partial(_Handler, receiver=self))
            self._port = server.server_address[1]
            self._server = server
            self._thread = threading.Thread(
                target=server.serve_forever,
                kwargs={"poll_interval": 0.05},
                name=f"OtlpReceiver:{self._port}",
                daemon=True,
            )
            self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the listening socket; delayed requests are dropped unanswered. Idempotent."""
        with self._cond:
            server, thread = self._server, self._thread
            self._server = self._thread = None
            self._stop_event.set()
            self._cond.notify_all()
        if server is None or thread is None:
            return
        server.shutdown()
        server.server_close()
        thread.join()
        deadline = time.monotonic() + _STOP_GRACE
        with self._cond:  # let handlers woken from their delay record what they dropped
            while self._in_flight and (remaining := deadline - time.monotonic()) > 0:
                self._cond.wait(remaining)

    def __enter__(self) -> OtlpReceiver:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    @property
    def running(self) -> bool:
        """Whether the receiver is currently serving."""
        with self._cond:
            return self._server is not None

    @property
    def url(self) -> str:
        """Base URL, ``http://127.0.0.1:PORT``."""
        with self._cond:
            if not self._port:
                raise RuntimeError("OtlpReceiver not started")
            return f"http://127.0.0.1:{self._port}"

    @property
    def traces_endpoint(self) -> str:
        """The OTLP/HTTP traces endpoint, ``url + "/v1/traces"``."""
        return self.url + TRACES_PATH

    # -- behaviour controls ----------------------------------------------------------------------------------------

    @property
    def status(self) -> int:
        """HTTP status answered for ``POST /v1/traces`` with a well-formed body (default 200)."""
        with self._cond:
            return self._status

    @status.setter
    def status(self, value: int) -> None:
        with self._cond:
            self._status = value

    @property
    def delay(self) -> float:
        """Seconds to wait before answering ``POST /v1/traces``; a change also applies to requests already waiting."""
        with self._cond:
            return self._delay

    @delay.setter
    def delay(self, value: float) -> None:
        with self._cond:
            self._delay = value

    @property
    def media_status(self) -> int:
        """Status answered for ``PUT /v1/media/<id>``; 0 (default) stores and answers 201/200, else nothing is kept."""
        with self._cond:
            return self._media_status

    @media_status.setter
    def media_status(self, value: int) -> None:
        with self._cond:
            self._media_status = value

    @property
    def media_delay(self) -> float:
        """Seconds to wait before handling ``PUT /v1/media/<id>`` (interrupted by :meth:`stop`)."""
        with self._cond:
            return self._media_delay

    @media_delay.setter
    def media_delay(self, value: float) -> None:
        with self._cond:
            self._media_delay = value

    @property
    def media_retry_after(self) -> str | None:
        """``Retry-After`` value sent with a non-2xx :attr:`media_status`, or None for none."""
        with self._cond:
            return self._media_retry_after

    @media_retry_after.setter
    def media_retry_after(self, value: str | None) -> None:
        with self._cond:
            self._media_retry_after = value

    @property
    def media_puts(self) -> list[ReceivedRequest]:
        """Snapshot of the ``PUT /v1/media/<id>`` requests (answered or not)."""
        return [r for r in self.requests if r.method == "PUT" and urlsplit(r.path).path.startswith(MEDIA_PREFIX)]

    # -- recorded data ---------------------------------------------------------------------------------------------

    @property
    def spans(self) -> list[ReceivedSpan]:
        """Snapshot of the accepted spans, in arrival order."""
        with self._cond:
            return list(self._spans)

    @property
    def metrics(self) -> list[ReceivedMetric]:
        """Snapshot of the received metrics, in arrival order (a metric exported twice appears twice)."""
        with self._cond:
            return list(self._metrics)

    @property
    def metric_requests(self) -> list[ReceivedRequest]:
        """Snapshot of the ``POST /v1/metrics`` requests."""
        return [r for r in self.requests if r.method == "POST" and urlsplit(r.path).path == METRICS_PATH]

    def wait_for_metrics(self, names: Iterable[str], timeout: float = 10.0) -> list[ReceivedMetric]:
        """Block until a metric of each of ``names`` was received; return all received metrics.

        Raises:
            AssertionError: On timeout, listing what was received.
        """
        wanted = set(names)
        with self._cond:
            if not self._cond.wait_for(lambda: wanted <= {m.name for m in self._metrics}, timeout):
                got = sorted({m.name for m in self._metrics})
                raise AssertionError(f"expected metrics {sorted(wanted)} within {timeout}s; got {got}")
            return list(self._metrics)

    @property
    def rejected(self) -> int:
        """Number of well-formed spans answered with a non-2xx status (or dropped by :meth:`stop`)."""
        with self._cond:
            return len(self._rejected)

    @property
    def rejected_spans(self) -> list[ReceivedSpan]:
        """Snapshot of the spans counted in :attr:`rejected`."""
        with self._cond:
            return list(self._rejected)

    @property
    def requests(self) -> list[ReceivedRequest]:
        """Snapshot of every handled request, in the order they were answered."""
        with self._cond:
            return list(self._requests)

    @property
    def trace_requests(self) -> list[ReceivedRequest]:
        """Snapshot of the ``POST /v1/traces`` requests."""
        return [r for r in self.requests if r.method == "POST" and urlsplit(r.path).path == TRACES_PATH]

    @property
    def media(self) -> dict[str, tuple[bytes, str]]:
        """Snapshot of the stored media: id -> (bytes, content type)."""
        with self._cond:
            return dict(self._media)

    @property
    def in_flight(self) -> int:
        """Number of requests currently being handled (e.g. waiting out :attr:`delay`)."""
        with self._cond:
            return self._in_flight

    def all_bytes(self) -> bytes:
        """Concatenation of every raw and decompressed body received, for "appears in no exported byte" scans."""
        with self._cond:
            return b"".join(part for r in self._requests for part in (r.raw_body, r.body))

    def wait_for_spans(self, count: int, timeout: float = 10.0) -> list[ReceivedSpan]:
        """Block until at least ``count`` spans were accepted.

        Args:
            count: Number of accepted spans to wait for.
            timeout: Seconds to wait at most.

        Returns:
            Snapshot of all accepted spans.

        Raises:
            AssertionError: On timeout, listing what was received.
        """
        with self._cond:
            if not self._cond.wait_for(lambda: len(self._spans) >= count, timeout):
                raise AssertionError(f"expected at least {count} accepted span(s) within {timeout}s; {self._summary()}")
            return list(self._spans)

    def wait_for_requests(self, count: int, timeout: float = 10.0) -> list[ReceivedRequest]:
        """Block until at least ``count`` requests were handled.

        Args:
            count: Number of handled requests to wait for.
            timeout: Seconds to wait at most.

        Returns:
            Snapshot of all handled requests.

        Raises:
            AssertionError: On timeout, listing what was received.
        """
        with self._cond:
            if not self._cond.wait_for(lambda: len(self._requests) >= count, timeout):
                raise AssertionError(f"expected at least {count} request(s) within {timeout}s; {self._summary()}")
            return list(self._requests)

    def clear(self) -> None:
        """Forget recorded requests, spans, rejected spans and media (behaviour controls are kept)."""
        with self._cond:
            self._requests.clear()
            self._spans.clear()
            self._rejected.clear()
            self._metrics.clear()
            self._media.clear()

    def _summary(self) -> str:
        spans = ", ".join(f"{s.name!r} ({s.kind})" for s in self._spans) or "none"
        requests = "; ".join(
            f"{r.method} {r.path} -> {r.status}" + (f" [{r.error}]" if r.error else "") for r in self._requests
        )
        return (
            f"received {len(self._spans)} accepted span(s): {spans}; {len(self._rejected)} rejected span(s); "
            f"{len(self._requests)} request(s): {requests or 'none'}"
        )

    # -- request handling (called from handler threads) ------------------------------------------------------------

    def _handle(
        self, method: str, target: str, headers: dict[str, str], read_body: Callable[[], bytes]
    ) -> _Answer | None:
        with self._cond:
            self._in_flight += 1
        try:
            return self._handle_counted(method, target, headers, read_body)
        except Exception as error:  # a receiver bug must show up in the records, not kill the request
            _logger.debug("unexpected error while handling %s %s", method, target, exc_info=True)
            answer = _Answer(500, _TEXT, f"internal receiver error: {error!r}\n".encode())
            return self._record(method, target, headers, b"", b"", answer, f"internal receiver error: {error!r}")
        finally:
            with self._cond:
                self._in_flight -= 1
                self._cond.notify_all()

    def _handle_counted(
        self, method: str, target: str, headers: dict[str, str], read_body: Callable[[], bytes]
    ) -> _Answer | None:
        raw = b""
        try:
            raw = read_body()
        except _BadRequest as bad:
            return self._record(method, target, headers, raw, b"", _error_answer(bad), str(bad))
        path = urlsplit(target).path
        if path == TRACES_PATH and method == "POST":
            return self._handle_traces(target, headers, raw)
        if path == METRICS_PATH and method == "POST":
            return self._handle_metrics(target, headers, raw)
        if path.startswith(MEDIA_PREFIX) and len(path) > len(MEDIA_PREFIX) and method in ("PUT", "GET"):
            return self._handle_media(method, target, path[len(MEDIA_PREFIX) :], headers, raw)
        answer = _Answer(404, _TEXT, f"no handler for {method} {path}\n".encode())
        return self._record(method, target, headers, raw, raw, answer, None)

    def _handle_traces(self, target: str, headers: dict[str, str], raw: bytes) -> _Answer | None:
        body = b""
        try:
            body = _decompress(raw, headers.get("content-encoding", ""))
            spans = _decode_spans(_parse_export_request(body, headers.get("content-type", "")))
        except _BadRequest as bad:
            return self._record("POST", target, headers, raw, body, _error_answer(bad), str(bad))
        if not self._wait_delay():
            return self._record("POST", target, headers, raw, body, None, "receiver stopped before answering", spans)
        status = self.status
        if 200 <= status < 300:
            answer = _Answer(status, _PROTOBUF, ExportTraceServiceResponse().SerializeToString())
        else:
            answer = _Answer(status, _TEXT, f"configured to answer {status}\n".encode())
        return self._record("POST", target, headers, raw, body, answer, None, spans)

    def _handle_metrics(self, target: str, headers: dict[str, str], raw: bytes) -> _Answer | None:
        body = b""
        try:
            body = _decompress(raw, headers.get("content-encoding", ""))
            content_type = headers.get("content-type", "").split(";", 1)[0].strip().lower()
            if content_type == _PROTOBUF:
                request = ExportMetricsServiceRequest.FromString(body)
            elif content_type == _JSON:
                request = json_format.Parse(body, ExportMetricsServiceRequest())
            else:
                raise _BadRequest(415, f"unsupported content-type: {content_type!r}")
        except (DecodeError, json_format.ParseError, ValueError) as error:
            bad = _BadRequest(400, f"malformed ExportMetricsServiceRequest: {error}")
            return self._record("POST", target, headers, raw, body, _error_answer(bad), str(bad))
        except _BadRequest as bad:
            return self._record("POST", target, headers, raw, body, _error_answer(bad), str(bad))
        with self._cond:
            self._metrics.extend(_decode_metrics(request))
        answer = _Answer(200, _PROTOBUF, ExportMetricsServiceResponse().SerializeToString())
        return self._record("POST", target, headers, raw, body, answer, None)

    def _handle_media(
        self, method: str, target: str, media_id: str, headers: dict[str, str], raw: bytes
    ) -> _Answer | None:
        if method == "PUT" and not self._wait_delay(lambda: self.media_delay):
            return self._record(method, target, headers, raw, raw, None, "receiver stopped before answering")
        with self._cond:
            if method == "PUT" and self._media_status:
                answer = _Answer(self._media_status, _TEXT, f"configured to answer {self._media_status}\n".encode())
                if self._media_retry_after is not None:
                    answer = _Answer(answer.status, answer.content_type, answer.body, self._media_retry_after)
            elif method == "PUT":
                content_type = headers.get("content-type", "application/octet-stream")
                status = 200 if media_id in self._media else 201
                self._media[media_id] = (raw, content_type)
                answer = _Answer(status, _TEXT, b"stored\n")
            elif media_id in self._media:
                data, content_type = self._media[media_id]
                answer = _Answer(200, content_type, data)
            else:
                answer = _Answer(404, _TEXT, f"no media {media_id!r}\n".encode())
        return self._record(method, target, headers, raw, raw, answer, None)

    def _wait_delay(self, delay: Callable[[], float] | None = None) -> bool:
        """Wait out :attr:`delay` (re-read while waiting); ``False`` when :meth:`stop` interrupted the wait."""
        started = time.monotonic()
        stop_event = self._stop_event
        read = delay or (lambda: self.delay)
        while (remaining := read() - (time.monotonic() - started)) > 0:
            if stop_event.wait(min(remaining, _DELAY_POLL)):
                return False
        return True

    def _record(
        self,
        method: str,
        target: str,
        headers: dict[str, str],
        raw: bytes,
        body: bytes,
        answer: _Answer | None,
        error: str | None,
        spans: list[ReceivedSpan] | None = None,
    ) -> _Answer | None:
        """Record a handled request (before the answer is written, so a client never sees an unrecorded answer)."""
        status = answer.status if answer is not None else 0
        request = ReceivedRequest(method, target, headers, raw, body, status, error)
        with self._cond:
            self._requests.append(request)
            if spans:
                (self._spans if 200 <= status < 300 else self._rejected).extend(spans)
            self._cond.notify_all()
        return answer


def _error_answer(bad: _BadRequest) -> _Answer:
    return _Answer(bad.status, _TEXT, f"{bad}\n".encode())
