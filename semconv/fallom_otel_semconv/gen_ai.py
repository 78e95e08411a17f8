"""GenAI semantic-convention attribute names and enum values emitted by fallom-otel.

Keys follow OpenTelemetry GenAI semantic conventions v1.41.0, plus the ``cache_write`` rename from the GenAI
semconv development branch that the official OpenTelemetry GenAI instrumentations already emit. Each constant is
named after its key in upper snake case (``gen_ai.request.model`` -> ``GEN_AI_REQUEST_MODEL``).
"""

from __future__ import annotations

from ._enum import StrValueEnum

__all__ = [
    "GEN_AI_CONVERSATION_ID",
    "GEN_AI_EMBEDDINGS_DIMENSION_COUNT",
    "GEN_AI_INPUT_MESSAGES",
    "GEN_AI_OPERATION_NAME",
    "GEN_AI_OUTPUT_MESSAGES",
    "GEN_AI_OUTPUT_TYPE",
    "GEN_AI_PROVIDER_NAME",
    "GEN_AI_REQUEST_CHOICE_COUNT",
    "GEN_AI_REQUEST_ENCODING_FORMATS",
    "GEN_AI_REQUEST_FREQUENCY_PENALTY",
    "GEN_AI_REQUEST_MAX_TOKENS",
    "GEN_AI_REQUEST_MODEL",
    "GEN_AI_REQUEST_PRESENCE_PENALTY",
    "GEN_AI_REQUEST_SEED",
    "GEN_AI_REQUEST_STOP_SEQUENCES",
    "GEN_AI_REQUEST_STREAM",
    "GEN_AI_REQUEST_TEMPERATURE",
    "GEN_AI_REQUEST_TOP_K",
    "GEN_AI_REQUEST_TOP_P",
    "GEN_AI_RESPONSE_FINISH_REASONS",
    "GEN_AI_RESPONSE_ID",
    "GEN_AI_RESPONSE_MODEL",
    "GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK",
    "GEN_AI_SYSTEM_INSTRUCTIONS",
    "GEN_AI_TOKEN_TYPE",
    "GEN_AI_TOOL_DEFINITIONS",
    "GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS",
    "GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS",
    "GEN_AI_USAGE_CACHE_WRITE_INPUT_TOKENS",
    "GEN_AI_USAGE_INPUT_TOKENS",
    "GEN_AI_USAGE_OUTPUT_TOKENS",
    "GEN_AI_USAGE_REASONING_OUTPUT_TOKENS",
    "FinishReasonValues",
    "GenAiOperationNameValues",
    "GenAiOutputTypeValues",
    "GenAiProviderNameValues",
    "GenAiTokenTypeValues",
    "ModalityValues",
    "PartTypeValues",
    "RoleValues",
]

# --- Operation, provider, conversation -------------------------------------------------------------------------

GEN_AI_OPERATION_NAME = "gen_ai.operation.name"
"""The operation performed (see `GenAiOperationNameValues`). Always set, at span start; first half of the span name."""

GEN_AI_PROVIDER_NAME = "gen_ai.provider.name"
"""The provider, from the client SDK used (see `GenAiProviderNameValues`). Always set, at span start."""

GEN_AI_CONVERSATION_ID = "gen_ai.conversation.id"
"""The conversation id: the Fallom session id inside a session. Never fabricated."""

GEN_AI_OUTPUT_TYPE = "gen_ai.output.type"
"""The output type the request asked for (see `GenAiOutputTypeValues`), when the request asks for a format."""

# --- Request ---------------------------------------------------------------------------------------------------

GEN_AI_REQUEST_MODEL = "gen_ai.request.model"
"""The exact model name requested. Set at span start when known; second half of the span name."""

GEN_AI_REQUEST_MAX_TOKENS = "gen_ai.request.max_tokens"
"""Maximum number of tokens to generate, when sent (int)."""

GEN_AI_REQUEST_TEMPERATURE = "gen_ai.request.temperature"
"""Sampling temperature, when sent (double)."""

GEN_AI_REQUEST_TOP_P = "gen_ai.request.top_p"
"""Nucleus-sampling ``top_p``, when sent (double)."""

GEN_AI_REQUEST_TOP_K = "gen_ai.request.top_k"
"""Decoding ``top_k``, when sent (int, as in the semconv dev branch). OpenAI ``top_logprobs`` never maps here."""

GEN_AI_REQUEST_STOP_SEQUENCES = "gen_ai.request.stop_sequences"
"""Stop sequences, when sent (string array)."""

GEN_AI_REQUEST_SEED = "gen_ai.request.seed"
"""Sampling seed, when sent (int)."""

GEN_AI_REQUEST_FREQUENCY_PENALTY = "gen_ai.request.frequency_penalty"
"""Frequency penalty, when sent (double)."""

GEN_AI_REQUEST_PRESENCE_PENALTY = "gen_ai.request.presence_penalty"
"""Presence penalty, when sent (double)."""

GEN_AI_REQUEST_CHOICE_COUNT = "gen_ai.request.choice.count"
"""Number of choices requested (OpenAI ``n``), only when it is not 1 (int)."""

GEN_AI_REQUEST_STREAM = "gen_ai.request.stream"
"""``True`` for streaming requests; unset means non-streaming (boolean)."""

GEN_AI_REQUEST_ENCODING_FORMATS = "gen_ai.request.encoding_formats"
"""Embedding encoding formats requested, when sent (string array; embeddings only)."""

# --- Response --------------------------------------------------------------------------------------------------

GEN_AI_RESPONSE_MODEL = "gen_ai.response.model"
"""The model name the provider reports having used, when known."""

GEN_AI_RESPONSE_ID = "gen_ai.response.id"
"""The provider's response id, when known."""

GEN_AI_RESPONSE_FINISH_REASONS = "gen_ai.response.finish_reasons"
"""Finish reasons, one per choice, when known (string array)."""

GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK = "gen_ai.response.time_to_first_chunk"
"""Seconds from request start to the first streamed chunk (double; streams only)."""

# --- Usage -----------------------------------------------------------------------------------------------------

GEN_AI_USAGE_INPUT_TOKENS = "gen_ai.usage.input_tokens"
"""Billed input tokens, including cache reads and writes, when the provider reports usage (int)."""

GEN_AI_USAGE_OUTPUT_TOKENS = "gen_ai.usage.output_tokens"
"""Output tokens, including reasoning tokens, when the provider reports usage (int)."""

GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS = "gen_ai.usage.cache_read.input_tokens"
"""Input tokens served from the provider's prompt cache, when reported (int; a subset of input tokens)."""

GEN_AI_USAGE_CACHE_WRITE_INPUT_TOKENS = "gen_ai.usage.cache_write.input_tokens"
"""Input tokens written to the provider's prompt cache, when reported (int; a subset of input tokens).

The semconv development-branch name (rename of `GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS`) that the official
OpenTelemetry GenAI instrumentations emit. This is the key fallom-otel emits.
"""

GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS = "gen_ai.usage.cache_creation.input_tokens"
"""The v1.41.0 name of `GEN_AI_USAGE_CACHE_WRITE_INPUT_TOKENS`. Not emitted by default; kept for readers of old data."""

GEN_AI_USAGE_REASONING_OUTPUT_TOKENS = "gen_ai.usage.reasoning.output_tokens"
"""Reasoning tokens, when reported (int; a subset of output tokens)."""

GEN_AI_EMBEDDINGS_DIMENSION_COUNT = "gen_ai.embeddings.dimension.count"
"""Number of dimensions requested for embeddings, when sent (int; embeddings only)."""

# --- Content (opt-in; compact JSON strings in the shapes of `fallom_otel_semconv.messages`) ---------------------

GEN_AI_SYSTEM_INSTRUCTIONS = "gen_ai.system_instructions"
"""Instructions passed apart from the chat history, as a JSON array of parts. Content capture on only."""

GEN_AI_INPUT_MESSAGES = "gen_ai.input.messages"
"""The input messages, as a JSON array of `InputMessage`, in send order. Content capture on only."""

GEN_AI_OUTPUT_MESSAGES = "gen_ai.output.messages"
"""The output messages, one `OutputMessage` per choice, as a JSON array. Content capture on only."""

GEN_AI_TOOL_DEFINITIONS = "gen_ai.tool.definitions"
"""The tools offered to the model, as a JSON array of `ToolDefinition`. Content capture on only."""

# --- Metric attributes -----------------------------------------------------------------------------------------

GEN_AI_TOKEN_TYPE = "gen_ai.token.type"
"""Token type of a ``gen_ai.client.token.usage`` measurement (see `GenAiTokenTypeValues`). Metrics only."""


# --- Enum values -----------------------------------------------------------------------------------------------


class GenAiOperationNameValues(StrValueEnum):
    """Well-known values of `GEN_AI_OPERATION_NAME`."""

    CHAT = "chat"
    """Chat completion: OpenAI Chat Completions and Responses, Anthropic Messages."""
    TEXT_COMPLETION = "text_completion"
    """Legacy text completion (OpenAI ``completions``)."""
    GENERATE_CONTENT = "generate_content"
    """Multimodal content generation (e.g. Gemini ``generateContent``)."""
    EMBEDDINGS = "embeddings"
    """Embeddings creation."""
    RETRIEVAL = "retrieval"
    """Retrieval from a data source."""
    EXECUTE_TOOL = "execute_tool"
    """Execution of a tool."""
    CREATE_AGENT = "create_agent"
    """Creation of an agent."""
    INVOKE_AGENT = "invoke_agent"
    """Invocation of an agent."""


class GenAiProviderNameValues(StrValueEnum):
    """Well-known values of `GEN_AI_PROVIDER_NAME` (the client SDK used, not the upstream model's maker)."""

    OPENAI = "openai"
    """OpenAI."""
    ANTHROPIC = "anthropic"
    """Anthropic."""
    AZURE_AI_OPENAI = "azure.ai.openai"
    """Azure OpenAI (the ``AzureOpenAI`` client of the ``openai`` SDK)."""
    AWS_BEDROCK = "aws.bedrock"
    """AWS Bedrock."""
    GCP_VERTEX_AI = "gcp.vertex_ai"
    """Google Vertex AI."""
    GCP_GEMINI = "gcp.gemini"
    """Google Gemini (AI Studio) API."""
    GCP_GEN_AI = "gcp.gen_ai"
    """Google GenAI SDK, when the backend is not known."""
    AZURE_AI_INFERENCE = "azure.ai.inference"
    """Azure AI Inference."""
    COHERE = "cohere"
    """Cohere."""
    DEEPSEEK = "deepseek"
    """DeepSeek."""
    GROQ = "groq"
    """Groq."""
    MISTRAL_AI = "mistral_ai"
    """Mistral AI."""
    PERPLEXITY = "perplexity"
    """Perplexity."""
    X_AI = "x_ai"
    """xAI."""
    IBM_WATSONX_AI = "ibm.watsonx.ai"
    """IBM watsonx.ai."""


class GenAiOutputTypeValues(StrValueEnum):
    """Values of `GEN_AI_OUTPUT_TYPE`."""

    TEXT = "text"
    """Plain text."""
    JSON = "json"
    """JSON (a JSON object or a JSON schema response format)."""
    IMAGE = "image"
    """Image."""
    SPEECH = "speech"
    """Speech."""


class GenAiTokenTypeValues(StrValueEnum):
    """Values of `GEN_AI_TOKEN_TYPE`."""

    INPUT = "input"
    """Input (prompt) tokens."""
    OUTPUT = "output"
    """Output (completion) tokens."""


class FinishReasonValues(StrValueEnum):
    """Well-known finish reasons, for `GEN_AI_RESPONSE_FINISH_REASONS` and an output message's ``finish_reason``.

    Provider values map onto these: OpenAI ``tool_calls`` and Anthropic ``tool_use`` -> ``tool_call``, Anthropic
    ``end_turn`` -> ``stop``, Anthropic ``max_tokens`` -> ``length``.
    """

    STOP = "stop"
    """The model finished naturally or hit a stop sequence."""
    LENGTH = "length"
    """The token limit was reached."""
    CONTENT_FILTER = "content_filter"
    """The output was cut by a content filter."""
    TOOL_CALL = "tool_call"
    """The model asked for a tool call."""
    ERROR = "error"
    """The choice ended abnormally (e.g. a broken or abandoned stream)."""


class RoleValues(StrValueEnum):
    """Well-known message roles (``role`` of `InputMessage` / `OutputMessage`); any other string is allowed."""

    SYSTEM = "system"
    """System (or OpenAI ``developer``) message in the chat history."""
    USER = "user"
    """User message."""
    ASSISTANT = "assistant"
    """Assistant (model) message."""
    TOOL = "tool"
    """Tool result message."""


class ModalityValues(StrValueEnum):
    """Well-known ``modality`` values of ``uri``, ``blob`` and ``file`` parts; any other string is allowed."""

    IMAGE = "image"
    """Image."""
    VIDEO = "video"
    """Video."""
    AUDIO = "audio"
    """Audio."""
    DOCUMENT = "document"
    """Document such as a PDF (semconv development branch)."""


class PartTypeValues(StrValueEnum):
    """The ``type`` discriminator of message parts (see `fallom_otel_semconv.messages`)."""

    TEXT = "text"
    """Text content."""
    TOOL_CALL = "tool_call"
    """A tool call requested by the model."""
    TOOL_CALL_RESPONSE = "tool_call_response"
    """The result of a tool call."""
    URI = "uri"
    """Media referenced by URI."""
    BLOB = "blob"
    """Inline media (or its metadata only)."""
    FILE = "file"
    """Media referenced by a provider file id."""
    REASONING = "reasoning"
    """Reasoning (thinking) content."""
