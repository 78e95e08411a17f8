"""Process-wide tracing with FallomInstrumentor: every client is traced, sessions come from the context.

Two asyncio tasks run concurrent sessions; each call's span carries its own task's session.
"""

from __future__ import annotations

import asyncio

from anthropic import AsyncAnthropic
from openai import AsyncOpenAI

import fallom_otel

fallom_otel.init()
fallom_otel.FallomInstrumentor().instrument()  # same as init(instrument=True)

openai = AsyncOpenAI()  # plain clients: no wrapping needed
anthropic = AsyncAnthropic()


async def handle(user_id: str, conversation_id: str, question: str) -> str:
    with fallom_otel.session(config_key="my-agent", session_id=conversation_id, customer_id=user_id):
        draft = await openai.chat.completions.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": question}]
        )
        review = await anthropic.messages.create(
            model="claude-haiku-4-5",
            max_tokens=200,
            messages=[{"role": "user", "content": f"Check this answer: {draft.choices[0].message.content}"}],
        )
        return review.content[0].text if review.content and review.content[0].type == "text" else ""


async def main() -> None:
    answers = await asyncio.gather(
        handle("user-1", "conv-1", "What is OpenTelemetry?"),
        handle("user-2", "conv-2", "What is a span?"),
    )
    for answer in answers:
        print(answer[:80])


asyncio.run(main())
fallom_otel.flush()
