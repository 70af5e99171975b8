"""What customers' first questions end with, through the product's own decision path,
on help centers no threshold was tuned on: today's default against the new one, side by
side in one run.

Each configuration indexes the set's articles as `switchboard kb import` does and runs
every held-out question through :func:`switchboard.core.conversation.evaluation.evaluate`, the path
`switchboard eval` and the live bot share (language detection, search among the
articles in the question's language or across languages, the escalation policy,
drafting, grounding), as a first message. Configurations:

- ``wordllama``: the previous default (WordLlama fused, the confidence fitted once on
  StackFAQ's tuning half);
- ``e5``: the default now (multilingual-e5-small fused, each index fitting its own
  confidence on its own articles; no customer question of any set is used to fit it);
- ``none``: lexical only, with its own fitted confidence;
- ``e5-every-intent``: ``e5`` with the escalation triggers firing on every confident
  intent, as before they needed the message to be like the intent's examples
  (core/intents/familiarity.py).

Sets (held-out halves only; paths are arguments, see ../shared/README.md):

- StackFAQ: the second group of each thread's paraphrases (titles paraphrased);
- banking77: real customer messages, 77 intents as articles (not paraphrases of titles);
- CLINC150: each in-scope intent an article of five training examples, its ``val``
  questions asked, plus the ``oos_val`` questions, which no article answers (right:
  not answered). Nothing in the project was tuned on this set;
- with ``--wrapped``, StackFAQ's and banking77's questions again, each in an opening and
  closing written by someone who had not read core/understanding/small_talk.py ("yeah hi
  um so …", "Hello there! So sorry to bother you, but …", a signature block; the held-out
  ``UNSEEN_WRAPPERS`` of bench/retrieval.py, seed 5): what a customer's own words around
  the question cost;
- XQuAD (de, ru, zh; CC BY-SA 4.0): 240 Wikipedia paragraphs as articles, the second
  half of each paragraph's questions asked, in the paragraph's language; and across
  languages: Russian and Chinese questions against the German paragraphs (the three
  files are parallel translations).

    python bench/answers.py --stackfaq ../shared/data/stackfaq/stackExchange-FAQ.json \\
        --banking77 ../shared/data/banking77/train.csv --clinc150 ../shared/data/clinc150/data_train_val.json \\
        --xquad ../shared/data/xquad [--configurations wordllama,e5] [--limit 400] [--wrapped]

With ``--fit-shipped`` it fits, instead, the confidence that indexes too small to fit
their own fall back on (``E5_CONFIDENCE``), from the sets' articles alone.

Prints one JSON object: per set and configuration the shares of each verdict,
"reached" (answered right + menu holding the right article, or, for a question no
article answers, not answered), what the index's calibration expected, and seconds.
"""
from __future__ import annotations

import argparse
import json
import random
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.retrieval import (  # noqa: E402
    UNSEEN_WRAPPERS,
    EveryIntentFamiliar,
    load_banking77,
    load_stackfaq,
    politely_wrapped,
)
from switchboard.core.bot.escalation_file import load_policy  # noqa: E402
from switchboard.core.conversation.evaluation import Configuration, Question, counts, evaluate  # noqa: E402
from switchboard.core.intents.store import default_intent_model  # noqa: E402
from switchboard.core.knowledge.chunking import chunk_articles  # noqa: E402
from switchboard.core.knowledge.records import Article  # noqa: E402
from switchboard.core.knowledge.retrieval import Retriever, build_index, build_retriever  # noqa: E402

Set = tuple[list[Article], list[Question]]
NOT_ANSWERED = "none"  # expected for a question no article answers


def clinc150(path: Path, *, examples: int = 5) -> Set:
    data = json.loads(path.read_text(encoding="utf-8"))
    by_intent: dict[str, list[str]] = {}
    for text, label in data["train"]:
        by_intent.setdefault(label, []).append(text)
    articles = [Article(id=f"clinc-{intent}", title=intent.replace("_", " ").capitalize(),
                        body="Customers ask about this as:\n\n" + "\n\n".join(texts[:examples]))
                for intent, texts in sorted(by_intent.items())]
    questions = [Question(text, f"clinc-{label}") for text, label in data["val"]]
    questions += [Question(text, NOT_ANSWERED) for text, _ in data["oos_val"]]
    return articles, questions


def xquad(folder: Path, language: str, *, articles_in: str | None = None) -> Set:
    """Paragraphs of ``articles_in`` (default: the questions' language) as articles, the
    second half of each paragraph's ``language`` questions asked."""
    def paragraphs(lang: str) -> list[tuple[str, str, list[str]]]:
        data = json.loads((folder / f"xquad.{lang}.json").read_text(encoding="utf-8"))["data"]
        return [(f"{doc['title']} {n + 1}", p["context"], [q["question"] for q in p["qas"]])
                for doc in data for n, p in enumerate(doc["paragraphs"])]

    asked = paragraphs(language)
    source = paragraphs(articles_in) if articles_in else asked
    if len(source) != len(asked):
        raise SystemExit(f"xquad.{articles_in} and xquad.{language} are not parallel")
    locale = articles_in or language
    articles = [Article(id=f"xquad-{n}", title=title, body=body, locale=locale)
                for n, (title, body, _) in enumerate(source)]
    questions = [Question(q, f"xquad-{n}") for n, (_, _, qs) in enumerate(asked) for q in qs[len(qs) // 2:]]
    return articles, questions


def wrapped(questions: Sequence[tuple[str, str]]) -> list[tuple[str, str]]:
    """Each question in a customer's opening and closing (the same wrapper per question
    as ``bench/retrieval.py --decisions`` gives it: seed 5)."""
    return politely_wrapped(questions, seed=5, wrappers=UNSEEN_WRAPPERS)


def index(articles: Sequence[Article], configuration: str) -> Retriever:
    if configuration == "wordllama":  # the previous default: the confidence shipped for it
        return build_retriever(chunk_articles(articles), "wordllama")
    return build_index(articles, configuration)


def run(articles: Sequence[Article], questions: Sequence[Question], configuration: str) -> dict[str, Any]:
    started = time.perf_counter()
    every_intent = configuration == "e5-every-intent"
    retriever = index(articles, "e5" if every_intent else configuration)
    built = time.perf_counter() - started
    model = default_intent_model()
    config = Configuration(description={}, policy=load_policy(None), retriever=retriever,
                           intent_model=EveryIntentFamiliar(model) if every_intent else model)  # type: ignore[arg-type]
    outcomes = evaluate(questions, config)
    unanswerable = [o for o in outcomes if o.expected == NOT_ANSWERED]
    answerable = [o for o in outcomes if o.expected != NOT_ANSWERED]
    tally = counts(answerable)
    n = max(len(answerable), 1)
    shares = {name: round(tally[name] / n, 4) for name in (
        "answered_right", "answered_wrong", "choices_with_right", "choices_without_right", "clarified",
        "handed_over")}
    shares["reached"] = round((tally["answered_right"] + tally["choices_with_right"]) / n, 4)
    report: dict[str, Any] = {"questions": len(answerable), **shares, "expected": retriever.calibration,
                              "index_seconds": round(built, 1),
                              "seconds": round(time.perf_counter() - started, 1)}
    if unanswerable:
        report["unanswerable"] = {"questions": len(unanswerable),
                                  "answered": round(sum(o.action == "answer" for o in unanswerable)
                                                    / len(unanswerable), 4),
                                  "menu": round(sum(o.action == "choices" for o in unanswerable)
                                                / len(unanswerable), 4)}
    return report


def fit_shipped(sets: dict[str, Set]) -> dict[str, Any]:
    """The confidence an index too small to fit its own falls back on
    (``ranking.E5_CONFIDENCE``): one fit over every set's pseudo-questions, pooled, as
    each index fits its own. Only the sets' articles are read, no customer question."""
    from switchboard.core.knowledge.calibration import calibration_examples, fit
    from switchboard.core.knowledge.retrieval import _encoder_and_settings

    chosen = _encoder_and_settings("e5")
    pooled = []
    for articles, _ in sets.values():
        pooled += calibration_examples(articles, lambda passages: Retriever.build(passages, **chosen)) or []
    fitted = fit(pooled, semantic=True)
    if fitted is None:
        raise SystemExit("too few pseudo-questions to fit on")
    confidence, report = fitted
    return {"E5_CONFIDENCE": {name: round(value, 3) for name, value in vars(confidence).items()}, **report}


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--stackfaq", type=Path)
    parser.add_argument("--banking77", type=Path)
    parser.add_argument("--clinc150", type=Path)
    parser.add_argument("--xquad", type=Path, help="the folder holding xquad.de.json, xquad.ru.json, xquad.zh.json")
    parser.add_argument("--configurations", default="wordllama,e5")
    parser.add_argument("--limit", type=int, default=0, help="at most this many questions per set (random, seeded)")
    parser.add_argument("--only", default="", help="run only these sets (comma-separated names, e.g. xquad_ru_to_de)")
    parser.add_argument("--wrapped", action="store_true",
                        help="also ask StackFAQ's and banking77's questions in openings and closings no rule was "
                             "developed on (bench/retrieval.py UNSEEN_WRAPPERS)")
    parser.add_argument("--fit-shipped", action="store_true",
                        help="fit the fallback confidence of small indexes on the sets' articles instead")
    args = parser.parse_args(argv)
    sets: dict[str, Set] = {}
    if args.stackfaq:
        articles, _, test = load_stackfaq(args.stackfaq)
        sets["stackfaq"] = (articles, [Question(q, a) for q, a in test])
        if args.wrapped:
            sets["stackfaq_wrapped"] = (articles, [Question(q, a) for q, a in wrapped(test)])
    if args.banking77:
        articles, _, test = load_banking77(args.banking77)
        sets["banking77"] = (articles, [Question(q, a) for q, a in test])
        if args.wrapped:
            sets["banking77_wrapped"] = (articles, [Question(q, a) for q, a in wrapped(test)])
    if args.clinc150:
        sets["clinc150"] = clinc150(args.clinc150)
    if args.xquad:
        for language in ("de", "ru", "zh"):
            sets[f"xquad_{language}"] = xquad(args.xquad, language)
        for language in ("ru", "zh"):
            sets[f"xquad_{language}_to_de"] = xquad(args.xquad, language, articles_in="de")
    if args.fit_shipped:
        print(json.dumps({"command": " ".join(sys.argv), **fit_shipped(
            {name: found for name, found in sets.items() if "_to_" not in name})}, indent=2))
        return
    results: dict[str, Any] = {"command": " ".join(sys.argv), "sets": {}}
    for name, (articles, questions) in sets.items():
        if args.only and name not in args.only.split(","):
            continue
        if args.limit and len(questions) > args.limit:
            questions = random.Random(1).sample(questions, args.limit)
        results["sets"][name] = {c: run(articles, questions, c) for c in args.configurations.split(",")}
        print(json.dumps({name: results["sets"][name]}), file=sys.stderr, flush=True)
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
