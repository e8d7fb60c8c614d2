"""A progress bar for long loops (OCR pages, chunking, embedding), or one that shows nothing."""

from __future__ import annotations


class _NoBar:
    def update(self, n: int = 1) -> None:
        pass

    def close(self) -> None:
        pass


def progress_bar(total: int, desc: str, enabled: bool, unit: str = "doc"):
    if not enabled or total == 0:
        return _NoBar()
    from tqdm import tqdm  # deferred: only a run that shows progress needs it

    return tqdm(total=total, desc=desc, unit=unit, leave=False)
