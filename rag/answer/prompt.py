"""Build the LLM prompts: numbered passages packed into a token budget.

Two protocols. *Structured* (the default where the backend takes a JSON schema): each passage's
sentences are numbered ([2.3] is passage 2, sentence 3) and the model returns claims, each naming
the one sentence it rests on; the quote is then cut from the source at that sentence's offsets.
*Free text* (the fallback): the answer in words, each sentence ending with its [n].
The budget is counted with the model's own tokenizer where it has one (`count`), else tiktoken.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from ..ingest.chunks import count_tokens
from ..text import sentences
from ..types import Hit

ABSTAIN = "NOT_IN_DOCUMENTS"

SYSTEM = f"""You answer questions using ONLY the numbered passages provided.
Rules:
- Write the answer in words, as full sentences. Every sentence must end with the number of the passage
  that supports it, like [1] or [2][3].
- Copy names, numbers and dates exactly as the passages write them. Do not add facts that are not in the passages.
- Be brief: one to three sentences.
- If the passages do not contain the answer, reply with exactly {ABSTAIN} and nothing else.

Example:
Passages:
[1] (source: a.txt)
The bridge opened in 1932. It carries six lanes.
Question: When did the bridge open?
Answer: The bridge opened in 1932. [1]"""

STRUCTURED_SYSTEM = """You answer questions using ONLY the numbered sentences of the passages provided.
Reply with JSON: {"answerable": true or false, "claims": [{"text": ..., "passage": P, "sentence": S}, ...]}.
- Each claim is one short sentence in words that answers the question, and names the one sentence [P.S]
  that states it (passage P, sentence S).
- Copy names, numbers and dates exactly as the sentence writes them. Add nothing the sentence does not say.
- One to three claims. If no sentence answers the question: {"answerable": false, "claims": []}.

Example:
[1] (source: a.txt)
[1.1] The bridge opened in 1932. [1.2] It carries six lanes.
Question: When did the bridge open?
{"answerable": true, "claims": [{"text": "The bridge opened in 1932.", "passage": 1, "sentence": 1}]}"""

# The JSON schema sent as the response format (OpenAI-compatible servers, Ollama, llama.cpp grammar).
CLAIMS_SCHEMA = {
    "type": "object",
    "properties": {
        "answerable": {"type": "boolean"},
        "claims": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "text": {"type": "string"},
                    "passage": {"type": "integer"},
                    "sentence": {"type": "integer"},
                },
                "required": ["text", "passage", "sentence"],
                "additionalProperties": False,
            },
        },
    },
    "required": ["answerable", "claims"],
    "additionalProperties": False,
}

CONDENSE = """Rewrite the last question of this conversation as one standalone question that can be understood
without the conversation. Keep names, numbers and the subject from earlier turns. Reply with the question only.

Conversation:
{history}
Last question: {question}
Standalone question:"""


def pack_passages(passages: Sequence[Hit], budget_tokens: int,
                  count: Callable[[str], int] | None = None) -> list[tuple[int, Hit]]:
    """Keep passages in rank order while they fit the budget; always keep the first."""
    count = count or count_tokens
    kept: list[tuple[int, Hit]] = []
    used = 0
    for n, hit in enumerate(passages, start=1):
        cost = count(hit.chunk.indexed_text) + 12
        if kept and used + cost > budget_tokens:
            break
        kept.append((n, hit))
        used += cost
    return kept


def _header(n: int, hit: Hit) -> str:
    """The passage's number and source, and the title and heading it stands under, if any."""
    under = "; under: " + " / ".join(hit.chunk.heading.splitlines()) if hit.chunk.heading else ""
    return f"[{n}] (source: {hit.chunk.source}{under})"


def user_message(question: str, passages: Sequence[Hit], budget_tokens: int,
                 count: Callable[[str], int] | None = None) -> str:
    blocks = [f"{_header(n, hit)}\n{hit.chunk.text}" for n, hit in pack_passages(passages, budget_tokens, count)]
    return "Passages:\n\n" + "\n\n".join(blocks) + f"\n\nQuestion: {question}\nAnswer:"


def numbered_sentences(hit: Hit) -> list[tuple[int, int, str]]:
    """The passage's sentences as the structured prompt numbers them (1-based), with source offsets."""
    return sentences(hit.chunk.text, hit.chunk.start)


def structured_message(question: str, passages: Sequence[Hit], budget_tokens: int,
                       count: Callable[[str], int] | None = None) -> str:
    blocks = []
    for n, hit in pack_passages(passages, budget_tokens, count):
        numbered = " ".join(f"[{n}.{i}] {text}" for i, (_, _, text) in enumerate(numbered_sentences(hit), start=1))
        blocks.append(f"{_header(n, hit)}\n{numbered}")
    return "\n\n".join(blocks) + f"\n\nQuestion: {question}"
