"""A plain Anthropic application, as a user runs it under ``opentelemetry-instrument`` (no fallom_otel import).

Usage: ``python anthropic_app.py <base_url>``; prints the message id.
"""

from __future__ import annotations

import sys

from anthropic import Anthropic


def main() -> None:
    client = Anthropic(base_url=sys.argv[1], api_key="sk-ant-test-app-key", max_retries=0)
    message = client.messages.create(
        model="claude-sonnet-4-5",
        max_tokens=64,
        messages=[{"role": "user", "content": "Capital of France?"}],
    )
    print(message.id)


if __name__ == "__main__":
    main()
