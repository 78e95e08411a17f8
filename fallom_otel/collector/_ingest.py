"""OTLP/HTTP trace decoding: request bodies (protobuf or JSON, gzip/deflate) to call rows.

Pure functions, no I/O: :func:`decode_request` turns one ``POST /v1/traces`` body into the rows the store inserts,
counting the spans it had to reject (invalid trace or span ids) for the OTLP partial-success response.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import time
import zlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from google.protobuf import json_format
from google.protobuf.message import DecodeError
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTracePartialSuccess,
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.trace.v1.trace_pb2 import Span, Status

from fallom_otel_semconv import common, fallom, gen_ai

__all__ = [
    "CALL_COLUMNS",
    "JSON_MEDIA_TYPE",
    "PROTOBUF_MEDIA_TYPE",
    "BadRequest",
    "CallRow",
    "Decoded",
    "decode_request",
    "decompress",
    "encode_response",
    "parse_export_request",
    "rows_from_request",
]

PROTOBUF_MEDIA_TYPE = "application/x-protobuf"
JSON_MEDIA_TYPE = "application/json"

_HEX = re.compile(r"^[0-9a-fA-F]*$")
_TRACE_ID_BYTES = 16
_SPAN_ID_BYTES = 8
_ID_FIELDS = ("traceId", "spanId", "parentSpanId", "trace_id", "span_id", "parent_span_id")


class BadRequest(Exception):
    """A request the collector refuses; answered with ``status`` and the message as plain text."""

    def __init__(self, status: int, message: str) -> None:
        """Create the error.

        Args:
            status: The HTTP status to answer (400, 401, 411, 413, 415, ...).
            message: Why, shown to the client.
        """
        super().__init__(message)
        self.status = status


# The call table's columns, in the order of a `CallRow` tuple (the store creates and inserts them in this order).
CALL_COLUMNS: tuple[str, ...] = (
    "trace_id",
    "span_id",
    "parent_span_id",
    "name",
    "kind",
    "start_ns",
    "end_ns",
    "duration_ms",
    "is_call",
    "operation",
    "provider",
    "request_model",
    "response_model",
    "model",
    "response_id",
    "input_tokens",
    "output_tokens",
    "cache_read_tokens",
    "cache_write_tokens",
    "reasoning_tokens",
    "cost_usd",
    "cost_input_usd",
    "cost_output_usd",
    "ttft_ms",
    "ttfc_ms",
    "stream",
    "status",
    "status_message",
    "error_type",
    "config_key",
    "session_id",
    "customer_id",
    "service_name",
    "scope_name",
    "finish_reasons",
    "attributes",
    "resource",
    "events",
    "received_ns",
)

CallRow = tuple[Any, ...]
"""One row of the call table, values in `CALL_COLUMNS` order."""


@dataclass(frozen=True)
class Decoded:
    """The outcome of decoding one export request.

    Attributes:
        rows: One row per accepted span.
        rejected: How many spans were refused (invalid ids).
        reason: Why the first refused span was refused, for the partial-success message.
    """

    rows: list[CallRow]
    rejected: int
    reason: str


# --- bodies --------------------------------------------------------------------------------------------------------


def decompress(raw: bytes, encoding: str, limit: int) -> bytes:
    """Undo ``Content-Encoding`` (``gzip``, ``deflate`` or none) without ever holding more than ``limit`` bytes.

    Args:
        raw: The body as received.
        encoding: The ``Content-Encoding`` header value (empty when absent).
        limit: Largest decompressed size accepted.

    Returns:
        The decoded body.

    Raises:
        BadRequest: 400 for a corrupt or truncated stream, 413 when it inflates past ``limit`` (a zip bomb stops
            there), 415 for an encoding other than gzip/deflate/identity.
    """
    encoding = encoding.strip().lower()
    if encoding in ("", "identity"):
        return raw
    if encoding == "gzip":
        return _inflate(raw, 16 + zlib.MAX_WBITS, "gzip", limit)
    if encoding == "deflate":
        try:
            return _inflate(raw, zlib.MAX_WBITS, "deflate", limit)
        except BadRequest as error:
            if error.status != 400:
                raise
            return _inflate(raw, -zlib.MAX_WBITS, "deflate", limit)  # a raw deflate stream without zlib header
    raise BadRequest(415, f"unsupported Content-Encoding {encoding!r} (use gzip, deflate or none)")


def _inflate(raw: bytes, wbits: int, name: str, limit: int) -> bytes:
    out: list[bytes] = []
    size = 0
    data = raw
    try:
        while True:  # gzip allows several members back to back
            inflater = zlib.decompressobj(wbits)
            chunk = inflater.decompress(data, limit - size + 1)
            size += len(chunk)
            out.append(chunk)
            if size > limit or inflater.unconsumed_tail:
                raise BadRequest(413, f"{name} body inflates past the limit of {limit} bytes")
            if not inflater.eof:
                raise BadRequest(400, f"truncated {name} body")
            data = inflater.unused_data
            if not data or wbits < 0 or wbits == zlib.MAX_WBITS:
                break
    except zlib.error as error:
        raise BadRequest(400, f"cannot decode {name} body: {error}") from error
    return b"".join(out)


def parse_export_request(body: bytes, content_type: str) -> ExportTraceServiceRequest:
    """Parse an ``ExportTraceServiceRequest`` from protobuf or OTLP/JSON (hex ids, as the OTLP spec says).

    Args:
        body: The decompressed body.
        content_type: The ``Content-Type`` header value.

    Returns:
        The request message.

    Raises:
        BadRequest: 400 for a body that does not decode, 415 for another content type.
    """
    media_type = content_type.split(";", 1)[0].strip().lower()
    if media_type == PROTOBUF_MEDIA_TYPE:
        try:
            return ExportTraceServiceRequest.FromString(body)
        except DecodeError as error:
            raise BadRequest(400, f"malformed protobuf ExportTraceServiceRequest: {error}") from error
    if media_type == JSON_MEDIA_TYPE:
        try:
            document = json.loads(body)
        except (ValueError, RecursionError) as error:  # UnicodeDecodeError and JSONDecodeError are ValueErrors
            raise BadRequest(400, f"malformed JSON: {error}") from error
        if not isinstance(document, dict):
            raise BadRequest(400, "malformed JSON ExportTraceServiceRequest: the body must be an object")
        try:
            _hex_ids_to_base64(document)
            # OTLP/JSON receivers must ignore unknown fields (forward compatibility).
            return json_format.ParseDict(document, ExportTraceServiceRequest(), ignore_unknown_fields=True)
        except (json_format.ParseError, ValueError, TypeError, AttributeError, RecursionError) as error:
            raise BadRequest(400, f"malformed JSON ExportTraceServiceRequest: {error}") from error
    if not media_type:
        raise BadRequest(415, "missing Content-Type (use application/x-protobuf or application/json)")
    raise BadRequest(415, f"unsupported Content-Type {media_type!r} (use application/x-protobuf or application/json)")


def _hex_ids_to_base64(document: Mapping[str, Any]) -> None:
    """Rewrite OTLP/JSON hex ids in place to the base64 that the protobuf JSON mapping expects for ``bytes``."""
    for resource_spans in _items(document, "resourceSpans", "resource_spans"):
        for scope_spans in _items(resource_spans, "scopeSpans", "scope_spans"):
            for span in _items(scope_spans, "spans"):
                _fix_ids(span)
                for link in _items(span, "links"):
                    _fix_ids(link)


def _items(container: Any, *keys: str) -> list[Any]:
    if not isinstance(container, dict):
        return []
    for key in keys:
        value = container.get(key)
        if isinstance(value, list):
            return value
    return []


def _fix_ids(obj: Any) -> None:
    if not isinstance(obj, dict):
        return
    for key in _ID_FIELDS:
        value = obj.get(key)
        if isinstance(value, str) and _HEX.match(value) and len(value) % 2 == 0:
            obj[key] = base64.b64encode(binascii.unhexlify(value)).decode("ascii")


def encode_response(rejected: int, message: str, content_type: str) -> tuple[bytes, str]:
    """Encode an ``ExportTraceServiceResponse`` in the request's format.

    Args:
        rejected: Spans refused; when positive, ``partial_success`` carries the count and ``message``.
        message: Why they were refused.
        content_type: The request's ``Content-Type``; JSON requests get a JSON answer.

    Returns:
        ``(body, content type)``.
    """
    response = ExportTraceServiceResponse()
    if rejected:
        response.partial_success.CopyFrom(ExportTracePartialSuccess(rejected_spans=rejected, error_message=message))
    if content_type.split(";", 1)[0].strip().lower() == JSON_MEDIA_TYPE:
        return json_format.MessageToJson(response, indent=None).encode(), JSON_MEDIA_TYPE
    return response.SerializeToString(), PROTOBUF_MEDIA_TYPE


def decode_request(raw: bytes, content_type: str, content_encoding: str, limit: int) -> Decoded:
    """Decompress, parse and flatten one ``POST /v1/traces`` body.

    Args:
        raw: The body as received.
        content_type: ``Content-Type`` header value.
        content_encoding: ``Content-Encoding`` header value (empty when absent).
        limit: Largest decompressed size accepted.

    Returns:
        The rows and the rejected count.

    Raises:
        BadRequest: The body cannot be accepted at all.
    """
    media_type = content_type.split(";", 1)[0].strip().lower()
    if media_type not in (PROTOBUF_MEDIA_TYPE, JSON_MEDIA_TYPE):
        parse_export_request(b"", content_type)  # raises the 415 with its message
    body = decompress(raw, content_encoding, limit)
    return rows_from_request(parse_export_request(body, content_type))


# --- spans to rows -------------------------------------------------------------------------------------------------


def _any_value(value: AnyValue) -> Any:
    which = value.WhichOneof("value")
    if which == "string_value":
        return value.string_value
    if which == "int_value":
        return value.int_value
    if which == "double_value":
        return value.double_value
    if which == "bool_value":
        return value.bool_value
    if which == "array_value":
        return [_any_value(v) for v in value.array_value.values]
    if which == "kvlist_value":
        return _attributes(value.kvlist_value.values)
    if which == "bytes_value":
        return base64.b64encode(value.bytes_value).decode("ascii")
    return None


def _attributes(pairs: Iterable[KeyValue]) -> dict[str, Any]:
    return {kv.key: _any_value(kv.value) for kv in pairs}


def _int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and value.isdigit():  # OTLP/JSON int64 values may arrive as strings
        return int(value)
    return None


def _float(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return None
    return None


def _str(value: Any) -> str | None:
    if isinstance(value, str) and value:
        return value
    return None


_STATUS = {Status.STATUS_CODE_OK: "OK", Status.STATUS_CODE_ERROR: "ERROR"}
_KIND = {
    Span.SPAN_KIND_INTERNAL: "INTERNAL",
    Span.SPAN_KIND_SERVER: "SERVER",
    Span.SPAN_KIND_CLIENT: "CLIENT",
    Span.SPAN_KIND_PRODUCER: "PRODUCER",
    Span.SPAN_KIND_CONSUMER: "CONSUMER",
}
_SERVICE_NAME = "service.name"
_dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), default=str).encode


def _invalid_id(span: Span) -> str | None:
    if len(span.trace_id) != _TRACE_ID_BYTES or not any(span.trace_id):
        return f"span {span.name!r}: invalid trace id (must be {_TRACE_ID_BYTES} bytes, not all zero)"
    if len(span.span_id) != _SPAN_ID_BYTES or not any(span.span_id):
        return f"span {span.name!r}: invalid span id (must be {_SPAN_ID_BYTES} bytes, not all zero)"
    if span.parent_span_id and len(span.parent_span_id) != _SPAN_ID_BYTES:
        return f"span {span.name!r}: invalid parent span id"
    return None


def rows_from_request(request: ExportTraceServiceRequest) -> Decoded:
    """Flatten every span of a request into a call row; spans with invalid ids are counted as rejected.

    Args:
        request: The parsed request.

    Returns:
        The rows (in request order) and the rejected count.
    """
    rows: list[CallRow] = []
    rejected = 0
    reason = ""
    received_ns = time.time_ns()
    for resource_spans in request.resource_spans:
        resource = _attributes(resource_spans.resource.attributes)
        resource_json = _dumps(resource)
        service_name = _str(resource.get(_SERVICE_NAME))
        for scope_spans in resource_spans.scope_spans:
            scope_name = scope_spans.scope.name or None
            for span in scope_spans.spans:
                invalid = _invalid_id(span)
                if invalid is not None:
                    rejected += 1
                    reason = reason or invalid
                    continue
                rows.append(_row(span, resource_json, service_name, scope_name, received_ns))
    return Decoded(rows, rejected, reason)


def _row(span: Span, resource_json: str, service_name: str | None, scope_name: str | None, received: int) -> CallRow:
    attrs = _attributes(span.attributes)
    get = attrs.get
    operation = _str(get(gen_ai.GEN_AI_OPERATION_NAME))
    request_model = _str(get(gen_ai.GEN_AI_REQUEST_MODEL))
    response_model = _str(get(gen_ai.GEN_AI_RESPONSE_MODEL))
    start, end = span.start_time_unix_nano, span.end_time_unix_nano
    ttfc = _float(get(gen_ai.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK))
    cache_write = get(gen_ai.GEN_AI_USAGE_CACHE_WRITE_INPUT_TOKENS)
    if cache_write is None:  # the pre-rename key some instrumentations still send
        cache_write = get(gen_ai.GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS)
    stream = get(gen_ai.GEN_AI_REQUEST_STREAM)
    finish = get(gen_ai.GEN_AI_RESPONSE_FINISH_REASONS)
    status = _STATUS.get(span.status.code, "UNSET")
    events = [
        {"name": e.name, "time_ns": e.time_unix_nano, "attributes": _attributes(e.attributes)} for e in span.events
    ]
    return (
        span.trace_id.hex(),
        span.span_id.hex(),
        span.parent_span_id.hex() or None,
        span.name,
        _KIND.get(span.kind, "UNSPECIFIED"),
        start,
        end,
        (end - start) / 1e6 if end >= start else None,
        1 if operation or get(gen_ai.GEN_AI_PROVIDER_NAME) else 0,
        operation,
        _str(get(gen_ai.GEN_AI_PROVIDER_NAME)),
        request_model,
        response_model,
        response_model or request_model,
        _str(get(gen_ai.GEN_AI_RESPONSE_ID)),
        _int(get(gen_ai.GEN_AI_USAGE_INPUT_TOKENS)),
        _int(get(gen_ai.GEN_AI_USAGE_OUTPUT_TOKENS)),
        _int(get(gen_ai.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS)),
        _int(cache_write),
        _int(get(gen_ai.GEN_AI_USAGE_REASONING_OUTPUT_TOKENS)),
        _float(get(fallom.FALLOM_COST_USD)),
        _float(get(fallom.FALLOM_COST_INPUT_USD)),
        _float(get(fallom.FALLOM_COST_OUTPUT_USD)),
        _float(get(fallom.FALLOM_TIME_TO_FIRST_TOKEN_MS)),
        ttfc * 1000 if ttfc is not None else None,
        None if stream is None else int(bool(stream)),
        status,
        span.status.message or None,
        _str(get(common.ERROR_TYPE)),
        _str(get(fallom.FALLOM_CONFIG_KEY)),
        _str(get(fallom.FALLOM_SESSION_ID)) or _str(get(gen_ai.GEN_AI_CONVERSATION_ID)),
        _str(get(fallom.FALLOM_CUSTOMER_ID)),
        service_name,
        scope_name,
        _dumps(finish) if isinstance(finish, list) else None,
        _dumps(attrs),
        resource_json,
        _dumps(events) if events else None,
        received,
    )
