"""`rag fit-reader FILE` and `rag fit-relevance FILE`: fit the span reader and the relevance floor
from SQuAD v1.1 data (each rewrites its file in rag/answer/params)."""

from __future__ import annotations

import json
import sys
from pathlib import Path


def add_parser(sub) -> None:
    from ..answer.reader import PARAMS

    p = sub.add_parser("fit-reader", help="fit the extractive answerer's span reader from SQuAD v1.1 data (needs torch)")
    p.add_argument("file", help="a SQuAD v1.1 JSON file, e.g. ../shared/qa-train/squad-v1.1-dev-visible.json")
    p.add_argument("--out", help=f"parameter file to write (default: the package's, {PARAMS} or, with --base mpnet, "
                                 "reader-mpnet.npz beside it)")
    p.add_argument("--base", choices=("minilm", "mpnet"), default="minilm",
                   help="the encoder: the bundled all-MiniLM-L6-v2, or all-mpnet-base-v2 (rag.embed.mpnet) (default minilm)")
    p.add_argument("--news", help="also fit on the fit articles of a SQuAD v2-layout file with near misses, e.g. "
                                  "../shared/qa-train/news-qa.json")
    p.add_argument("--per-article", dest="per_article", type=int, help="at most N questions of each SQuAD article (a sample)")
    p.add_argument("--curve", type=int, default=0, help="measure validation F1 this many times in the first epoch (a learning curve)")
    p.add_argument("--batch-tokens", dest="batch_tokens", type=int, default=4096, help="padded tokens per step (default 4096)")
    # the defaults are the shipped reader's settings (rag/answer/params/reader.json)
    p.add_argument("--epochs", type=int, default=3, help="passes over the training windows (default 3)")
    p.add_argument("--trainable-from", dest="trainable_from", type=int, default=0,
                   help="MiniLM layers from this one up are fitted, the ones below stay as bundled (default 0: all)")
    p.add_argument("--lora", type=int, default=0,
                   help="fit those layers as rank-N updates (with their biases and norms) instead of whole (default 0: whole)")
    p.add_argument("--limit-questions", dest="limit_questions", type=int, help="fit on about N questions only (quick runs)")
    p.add_argument("--learning-rate", dest="lr", type=float, default=1e-4, help="AdamW's peak learning rate (default 1e-4)")
    p.add_argument("--device", help="where to fit the network: cuda when torch sees a GPU, else cpu (about 15 minutes on 2 cores)")
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(run=run)

    p = sub.add_parser("fit-short-answer", help="choose the sureness a short answer needs to be shown, from "
                                                 "`rag bench news|squad` results on articles the reader was not fitted on")
    p.add_argument("results", nargs="+", help="results.json files of `rag bench news --split train` or `rag bench squad`")
    p.add_argument("--llm", default="extractive", help="whose rows to use (default extractive)")
    p.add_argument("--precision", type=float, default=0.9, help="share of shown short answers that must be right (default 0.9)")
    p.add_argument("--out", default=str(PARAMS.with_suffix(".json")), help="the reader card to update (default %(default)s)")
    p.set_defaults(run=run_short_answer)

    from ..answer.judge import JUDGE_PARAMS

    p = sub.add_parser("fit-judge", help="fit the answer judge (does a quote answer this question?) on SQuAD and news-qa (needs torch)")
    p.add_argument("file", help="a SQuAD v1.1 JSON file, e.g. ../shared/qa-train/squad-v1.1-dev-visible.json")
    p.add_argument("--news", help="also fit on the fit articles of a file with near misses, e.g. ../shared/qa-train/news-qa.json")
    p.add_argument("--out", default=str(JUDGE_PARAMS), help="parameter file to write (default: the package's, %(default)s)")
    # the defaults are the shipped judge's settings (rag/answer/params/judge-mpnet.json)
    p.add_argument("--per-article", dest="per_article", type=int, default=150, help="at most N questions of each SQuAD article (default 150)")
    p.add_argument("--epochs", type=int, default=2, help="passes over the pairs (default 2)")
    p.add_argument("--trainable-from", dest="trainable_from", type=int, default=2, help="layers from this one up get low-rank updates (default 2)")
    p.add_argument("--lora", type=int, default=16, help="their rank (default 16)")
    p.add_argument("--news-repeat", dest="news_repeat", type=int, default=3, help="news pairs read this many times an epoch (default 3)")
    p.add_argument("--learning-rate", dest="lr", type=float, default=5e-4, help="AdamW's peak learning rate (default 5e-4)")
    p.add_argument("--limit-pairs", dest="limit_pairs", type=int, help="fit on N pairs only (quick runs and tests)")
    p.add_argument("--device", help="where to fit: cuda when torch sees a GPU, else cpu (about 45 minutes on 2 cores)")
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(run=run_judge)

    p = sub.add_parser("fit-judge-threshold", help="choose the answer judge's threshold from `rag bench news|squad "
                                                    "--split calibrate` results (articles it was not fitted on)")
    p.add_argument("results", nargs="+", help="results.json files of `rag bench news|squad --split calibrate`")
    p.add_argument("--llm", default="extractive", help="whose rows to use (default extractive)")
    p.add_argument("--out", default=str(JUDGE_PARAMS.with_suffix(".json")), help="the judge card to update (default %(default)s)")
    p.set_defaults(run=run_judge_threshold)

    from ..answer.relevance import PARAMS as RELEVANCE

    p = sub.add_parser("fit-relevance", help="fit the floor an LLM's quotes must reach to count as answering (SQuAD v1.1 data)")
    p.add_argument("file", help="a SQuAD v1.1 JSON file, e.g. ../shared/qa-train/squad-v1.1-dev-visible.json")
    p.add_argument("--out", default=str(RELEVANCE), help="file to write (default: the package's, %(default)s)")
    p.add_argument("--keep", type=float, default=0.9, help="share of right answers' quotes the floor keeps on the training articles (default 0.9)")
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(run=run_relevance)


def run(args) -> int:
    from ..errors import MissingDependencyError

    try:
        from ..fit.reader import fit
    except ImportError as err:
        raise MissingDependencyError("torch (to fit the reader)", "pip install sentence-transformers") from err
    card = fit(args.file, Path(args.out) if args.out else None, news=args.news, base=args.base, epochs=args.epochs,
               trainable_from=args.trainable_from, lora=args.lora, lr=args.lr, batch_tokens=args.batch_tokens,
               limit_questions=args.limit_questions, per_article=args.per_article, curve=args.curve, seed=args.seed,
               device=_device(args.device), log=lambda m: print(m, file=sys.stderr, flush=True))
    summary = {k: card[k] for k in ("windows", "epochs", "seconds", "calibrate_reading")}
    summary["threshold"] = card["calibration"]["threshold"]
    print(json.dumps(summary, indent=2))
    return 0


def _device(asked: str | None) -> str:
    """The device to fit on: the one asked for, checked, else cuda when torch sees a GPU."""
    import torch

    from ..errors import ConfigError

    if asked is None:
        return "cuda" if torch.cuda.is_available() else "cpu"
    try:
        kind = torch.device(asked).type
    except RuntimeError as err:
        raise ConfigError(f"unknown --device '{asked}'; use cpu or cuda") from err
    if kind == "cuda" and not torch.cuda.is_available():
        raise ConfigError(f"--device {asked}: torch sees no GPU here; use --device cpu")
    if kind not in ("cpu", "cuda"):
        raise ConfigError(f"unsupported --device '{asked}'; use cpu or cuda")
    return asked


def run_judge(args) -> int:
    from ..errors import MissingDependencyError

    try:
        from ..fit.judge import fit
    except ImportError as err:
        raise MissingDependencyError("torch (to fit the judge)", "pip install sentence-transformers") from err
    card = fit(args.file, Path(args.out), news=args.news, epochs=args.epochs, trainable_from=args.trainable_from, lora=args.lora,
               lr=args.lr, per_article=args.per_article, limit_pairs=args.limit_pairs, news_repeat=args.news_repeat, seed=args.seed,
               device=_device(args.device), log=lambda m: print(m, file=sys.stderr, flush=True))
    print(json.dumps({k: card[k] for k in ("fit_pairs", "epochs", "seconds")} | {"threshold": card["calibration"]["threshold"]}, indent=2))
    return 0


def run_judge_threshold(args) -> int:
    from ..errors import ConfigError
    from ..fit.judge import answer_threshold

    rows = []
    for path in args.results:
        try:
            rows += json.loads(Path(path).read_text())["answerers"][args.llm]["rows"]
        except (OSError, ValueError, KeyError) as err:
            raise ConfigError(f"{path} holds no rows of '{args.llm}' ({err.__class__.__name__}): give a results.json "
                              "of `rag bench news|squad --split calibrate`") from err
    chosen = answer_threshold(rows)
    chosen["data"] = [str(p) for p in args.results]
    card = json.loads(Path(args.out).read_text())
    card["calibration"] = {**card["calibration"], "pairs_threshold": card["calibration"].get("pairs_threshold", card["calibration"]["threshold"]),
                           "threshold": chosen["threshold"], "answers": chosen}
    Path(args.out).write_text(json.dumps(card, indent=2) + "\n")
    print(json.dumps(chosen, indent=2))
    return 0


def run_relevance(args) -> int:
    from ..fit.relevance import fit

    card = fit(args.file, Path(args.out), keep=args.keep, seed=args.seed, log=lambda m: print(m, file=sys.stderr, flush=True))
    print(json.dumps(card, indent=2))
    return 0


def run_short_answer(args) -> int:
    from ..errors import ConfigError
    from ..fit.reader import short_answer_bar

    rows = []
    for path in args.results:
        try:
            result = json.loads(Path(path).read_text())
            rows += result["answerers"][args.llm]["rows"]
        except (OSError, ValueError, KeyError) as err:
            raise ConfigError(f"{path} holds no rows of '{args.llm}' ({err.__class__.__name__}): give a results.json "
                              "of `rag bench news` or `rag bench squad` run with --llm " + args.llm) from err
    bar = short_answer_bar(rows, args.precision)
    bar["data"] = [str(p) for p in args.results]
    card = json.loads(Path(args.out).read_text())
    if args.llm == "extractive":
        card["short_answer"] = bar
    else:  # another answerer's own bar, beside the default's
        card.setdefault("short_answer_by_answerer", {})[args.llm] = bar
    Path(args.out).write_text(json.dumps(card, indent=2) + "\n")
    print(json.dumps(bar, indent=2))
    return 0
