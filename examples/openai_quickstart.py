"""The Fallom quick start: init(), a session, a wrapped OpenAI client.

Run against the local collector without API keys (see examples/README.md):
    fallom-otel serve --simulate      # prints the variables to export
    python examples/openai_quickstart.py
"""

from __future__ import annotations

from openai import OpenAI

import fallom_otel

# Reads FALLOM_API_KEY / FALLOM_BASE_URL; a loopback base_url (the local collector) needs no key.
fallom_otel.init()

session = fallom_otel.session(config_key="my-app", session_id="session-123", customer_id="user-456")
openai = session.wrap_openai(OpenAI())  # a proxy: the client itself is not changed

response = openai.chat.completions.create(
    model="gpt-4o-mini",
    messages=[{"role": "user", "content": "Hello!"}],
)
print(response.choices[0].message.content)

fallom_otel.flush()  # a short script: deliver the span before the interpreter exits
