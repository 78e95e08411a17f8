"""A streamed OpenAI chat with a tool call round trip, traced in a session.

The stream's span gets the time to first token; `include_usage` makes OpenAI report token counts for streams
(or pass `init(stream_usage=True)` to have fallom-otel ask for them on every stream).
"""

from __future__ import annotations

import json

from openai import OpenAI
from openai.types.chat import ChatCompletionMessageParam, ChatCompletionToolParam

import fallom_otel

fallom_otel.init()
session = fallom_otel.session(config_key="travel-agent", session_id="trip-42", customer_id="user-7")
client = session.wrap_openai(OpenAI())

weather_tool: ChatCompletionToolParam = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Current weather for a city.",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    },
}
messages: list[ChatCompletionMessageParam] = [{"role": "user", "content": "Do I need an umbrella in Paris today?"}]

first = client.chat.completions.create(model="gpt-4o-mini", messages=messages, tools=[weather_tool])
reply = first.choices[0].message
calls = [call for call in reply.tool_calls or [] if call.type == "function"]
messages.append(
    {
        "role": "assistant",
        "content": reply.content,
        "tool_calls": [
            {"id": c.id, "type": "function", "function": {"name": c.function.name, "arguments": c.function.arguments}}
            for c in calls
        ],
    }
)
for call in calls:
    messages.append({"role": "tool", "tool_call_id": call.id, "content": json.dumps({"city": "Paris", "rain": True})})

stream = client.chat.completions.create(
    model="gpt-4o-mini",
    messages=messages,
    stream=True,
    stream_options={"include_usage": True},
)
for chunk in stream:
    if chunk.choices and chunk.choices[0].delta.content:
        print(chunk.choices[0].delta.content, end="", flush=True)
print()

fallom_otel.flush()
