"""A plain OpenAI application, as a user runs it under ``opentelemetry-instrument`` (it never imports fallom_otel).

Usage: ``python openai_app.py <base_url> [chat|responses|embeddings ...]``; prints each result's id. With
``APP_INCOMING_BAGGAGE`` set, the calls run in the context extracted from that W3C ``baggage`` header, as in a
service handling a request from an upstream service.
"""

from __future__ import annotations

import os
import sys

from openai import OpenAI
from opentelemetry import context, propagate


def main() -> None:
    base_url, calls = sys.argv[1], sys.argv[2:] or ["chat"]
    incoming = os.environ.get("APP_INCOMING_BAGGAGE")
    if incoming:
        context.attach(propagate.extract({"baggage": incoming}))
    client = OpenAI(base_url=base_url, api_key="sk-test-app-key", max_retries=0)
    for call in calls:
        if call == "chat":
            chat = client.chat.completions.create(
                model="gpt-4o-mini", messages=[{"role": "user", "content": "Capital of France?"}]
            )
            print(chat.id)
        elif call == "responses":
            response = client.responses.create(model="gpt-4o-mini", input="Capital of France?")
            print(response.id)
        elif call == "embeddings":
            embeddings = client.embeddings.create(model="text-embedding-3-small", input="Paris")
            print(embeddings.model)
        else:
            raise SystemExit(f"unknown call {call!r}")


if __name__ == "__main__":
    main()
