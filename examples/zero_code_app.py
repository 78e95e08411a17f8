"""An app that knows nothing about fallom-otel: run it with zero-code instrumentation.

    FALLOM_API_KEY=... opentelemetry-instrument python examples/zero_code_app.py

(or, against the local collector: FALLOM_BASE_URL=http://127.0.0.1:4318 and no key). The `fallom` distro and
configurator set up export; the `fallom_openai` / `fallom_anthropic` instrumentors load by entry point.
"""

from __future__ import annotations

from openai import OpenAI

client = OpenAI()
reply = client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "Hello!"}])
print(reply.choices[0].message.content)
