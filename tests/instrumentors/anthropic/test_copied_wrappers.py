"""Bedrock/Vertex beta classes copy the first-party methods at import: imported after instrument(), they must get a
patch of their own (their provider), not share the first-party wrapper they copied."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

SCRIPT = textwrap.dedent(
    """
    import wrapt
    from opentelemetry.sdk.trace import TracerProvider
    from fallom_otel_instrumentors.anthropic import AnthropicInstrumentor

    AnthropicInstrumentor().instrument(tracer_provider=TracerProvider())
    import anthropic.resources.beta.messages as first_party  # patched as it is imported
    from anthropic.lib.{platform}._beta_messages import Messages as Copy  # copies first-party's (patched) create

    base = getattr(wrapt, "BaseObjectProxy", wrapt.ObjectProxy)
    ours, theirs = vars(Copy)["create"], vars(first_party.Messages)["create"]
    assert isinstance(ours, base) and isinstance(theirs, base), (type(ours), type(theirs))
    # Reading the patched method off the first-party class gave the copy a BoundFunctionWrapper of ours; the copy
    # must have been restored to the plain function and patched on its own.
    assert type(ours).__name__ == "FunctionWrapper", type(ours)
    assert ours is not theirs
    assert not isinstance(ours.__wrapped__, base), "two layers of ours on the copy"
    print("ok")
    """
)


@pytest.mark.parametrize("platform", ["bedrock", "vertex"])
def test_copy_imported_after_instrument_gets_its_own_patch(platform: str) -> None:
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT.format(platform=platform)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr
