"""instrument() does not import the SDK's API modules; each is patched when the app first imports it."""

from __future__ import annotations

import subprocess
import sys
import textwrap


def test_api_modules_are_patched_on_first_import_not_at_instrument_time() -> None:
    script = textwrap.dedent(
        """
        import sys
        import openai
        import wrapt
        from fallom_otel_instrumentors.openai import OpenAIInstrumentor

        OpenAIInstrumentor().instrument()
        assert "openai.resources.responses" not in sys.modules, "instrument() imported the Responses API"
        client = openai.OpenAI(api_key="sk-test", base_url="http://127.0.0.1:9/v1")
        client.responses  # the SDK imports the module on first use; the post-import hook patches it
        from openai.resources.responses import Responses
        assert isinstance(Responses.__dict__["create"], wrapt.FunctionWrapper), type(Responses.__dict__["create"])
        OpenAIInstrumentor().uninstrument()
        assert not isinstance(Responses.__dict__["create"], wrapt.FunctionWrapper)
        print("ok")
        """
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"


def test_hooks_left_by_an_earlier_instrument_never_wrap_twice() -> None:
    script = textwrap.dedent(
        """
        import openai
        import wrapt
        from fallom_otel_instrumentors.openai import OpenAIInstrumentor

        instrumentor = OpenAIInstrumentor()
        for _ in range(3):  # each cycle registers import hooks for modules not imported yet
            instrumentor.instrument()
            instrumentor.uninstrument()
        instrumentor.instrument()
        from openai.resources.completions import Completions  # now every registered hook fires

        create = Completions.__dict__["create"]
        assert isinstance(create, wrapt.FunctionWrapper)
        assert not isinstance(create.__wrapped__, wrapt.FunctionWrapper), "wrapped twice"
        print("ok")
        """
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"
