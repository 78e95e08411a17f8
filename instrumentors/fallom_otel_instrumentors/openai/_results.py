"""OpenAI endpoints whose streams send usage only on request (chat, legacy completions)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fallom_otel_instrumentors._invocation import Invocation
from fallom_otel_instrumentors._results import RecordModel, finish_result
from fallom_otel_instrumentors._stream import StreamAccumulator
from fallom_otel_instrumentors.openai._common import injects_stream_usage


def finish_usage_on_request(
    invocation: Invocation,
    result: Any,
    kwargs: dict[str, Any],
    record: RecordModel,
    accumulator: Callable[..., StreamAccumulator],
) -> Any:
    """:func:`finish_result` for endpoints whose streams send usage only on request (chat, legacy completions).

    When the opt-in ``stream_usage`` asked for the usage chunk on the caller's behalf, the accumulator hides it.
    """
    hide_usage = injects_stream_usage(invocation, kwargs)
    return finish_result(invocation, result, record, lambda inv: accumulator(inv, hide_usage=hide_usage))
