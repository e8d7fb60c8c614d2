"""Build the LLM prompt: numbered passages packed into a token budget (counted with tiktoken)."""

from __future__ import annotations

from collections.abc import Sequence

from .chunks import count_tokens
from .types import Hit

ABSTAIN = "NOT_IN_DOCUMENTS"

SYSTEM = f"""You answer questions using ONLY the numbered passages provided.
Rules:
- Every sentence of your answer must end with the number of the passage that supports it, like [1] or [2][3].
- Copy names, numbers and dates exactly as the passages write them. Do not add facts that are not in the passages.
- Be brief: one to three sentences.
- If the passages do not contain the answer, reply with exactly {ABSTAIN} and nothing else."""

CONDENSE = """Rewrite the last question of this conversation as one standalone question that can be understood
without the conversation. Keep names, numbers and the subject from earlier turns. Reply with the question only.

Conversation:
{history}
Last question: {question}
Standalone question:"""


def pack_passages(passages: Sequence[Hit], budget_tokens: int) -> list[tuple[int, Hit]]:
    """Keep passages in rank order while they fit the budget; always keep the first."""
    kept: list[tuple[int, Hit]] = []
    used = 0
    for n, hit in enumerate(passages, start=1):
        cost = count_tokens(hit.chunk.indexed_text) + 12
        if kept and used + cost > budget_tokens:
            break
        kept.append((n, hit))
        used += cost
    return kept


def _header(n: int, hit: Hit) -> str:
    """The passage's number and source, and the title and heading it stands under, if any."""
    under = "; under: " + " / ".join(hit.chunk.heading.splitlines()) if hit.chunk.heading else ""
    return f"[{n}] (source: {hit.chunk.source}{under})"


def user_message(question: str, passages: Sequence[Hit], budget_tokens: int) -> str:
    blocks = [f"{_header(n, hit)}\n{hit.chunk.text}" for n, hit in pack_passages(passages, budget_tokens)]
    return "Passages:\n\n" + "\n\n".join(blocks) + f"\n\nQuestion: {question}\nAnswer:"
