"""Reading a knowledge base from the formats support teams actually have.

A help center usually arrives as an API export (JSON), a line-per-article dump (JSONL), a
spreadsheet (CSV: an FAQ of questions and answers, a CMS's export) or a docs folder of
Markdown/HTML files. Whatever the source, an import either yields
articles with stable ids or stops with an error naming the file, the record and the
field, so a typo in article 212 of 400 is fixed in a minute rather than debugged.
"""
from __future__ import annotations

import json
import re
from collections.abc import Container, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from markdown_it import MarkdownIt

from switchboard.core.knowledge.errors import KnowledgeBaseFormatError
from switchboard.core.knowledge.html_text import html_to_text
from switchboard.core.knowledge.records import Article
from switchboard.core.store.csv_rows import CsvFormatError, header_delimiter, read_rows
from switchboard.core.understanding.enrichment import written_language

MARKDOWN_SUFFIXES = frozenset({".md", ".markdown"})
HTML_SUFFIXES = frozenset({".html", ".htm"})
SPREADSHEET_SUFFIXES = frozenset({".csv", ".tsv"})
_FRONT_MATTER = re.compile(r"\A---[ \t]*\r?\n(.*?)\r?\n---[ \t]*(?:\r?\n|\Z)", re.DOTALL)
_FIX_RECORD = "Fix or remove that record and import again."
#: An article's locale when its record names none and its text does not say.
DEFAULT_LOCALE = "en"
#: How much of an article's text tells its language: at 1,000 characters every article
#: of the sample help center, StackFAQ, banking77 and XQuAD de/ru/zh is read right; at
#: 400, one German paragraph of 240 read as Tagalog. 4-7 ms an article, at import.
_LANGUAGE_SAMPLE = 1000


@dataclass(frozen=True)
class LeftOut:
    """A Help Center article in an export that customers cannot see, so the bot must not
    answer from it: ``reason`` says why, in words an admin reads."""

    id: str
    title: str
    reason: str


#: Why a Help Center article restricted to a user segment is left out (the CLI explains
#: that customers who write in are not signed in).
RESTRICTED = "restricted to a user segment"


def hidden_from_customers(record: Mapping[str, Any]) -> str | None:
    """Why customers writing in cannot see this Help Center API article, or None.

    A draft is not published. An article with a user segment is visible only to that
    segment (signed-in users, or "Agents and managers": internal procedures): customers
    who text, call or chat in are not signed in to the Help Center, and Zendesk's own
    bots share restricted articles only with users authenticated by JWT. An export made
    with an agent's token holds both, and answering from them would text a customer an
    unpublished or internal page."""
    if record.get("draft") is True:
        return "a draft"
    if record.get("user_segment_id") is not None or record.get("user_segment_ids"):
        return RESTRICTED
    return None


def load_articles(path: Path) -> list[Article]:
    """Articles from a .json/.jsonl file, a .csv/.tsv spreadsheet or a folder (or single
    file) of Markdown/HTML; articles customers cannot see (Help Center drafts and
    restricted articles, a sheet's unpublished rows) are left out (:func:`read_articles`)."""
    return read_articles(path)[0]


def read_articles(path: Path) -> tuple[list[Article], list[LeftOut]]:
    """:func:`load_articles`, and the Help Center articles it left out, and why."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(
            f"{path}: no such file or folder. Point the import at a .json or .jsonl export, "
            "or at a folder of .md/.html articles."
        )
    if path.is_dir():
        return _load_folder(path), []
    suffix = path.suffix.lower()
    records = {".json": _load_json, ".jsonl": _load_jsonl, **dict.fromkeys(SPREADSHEET_SUFFIXES, _load_spreadsheet)}
    if suffix in records:
        located = records[suffix](path)
        left_out = [LeftOut(article.id, article.title, reason) for _, article, reason in located if reason]
        return _unique(((where, article) for where, article, reason in located if not reason), path), left_out
    if suffix in MARKDOWN_SUFFIXES | HTML_SUFFIXES:
        return [_article_from_file(path, path.parent)], []
    raise KnowledgeBaseFormatError(
        path, None,
        f"'{suffix or path.name}' files are not supported. Use a .json list of articles, a "
        ".jsonl file with one article per line, a .csv with title and body columns, or a folder "
        "of .md/.markdown/.html/.htm files.",
    )


def article_from_help_center(obj: Mapping[str, Any]) -> Article:
    """An Article from a Zendesk Help Center API article object (body is HTML)."""
    return _help_center_article(obj, "Help Center article", None)


# --- JSON and JSONL ---------------------------------------------------------------------

def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as error:
        raise KnowledgeBaseFormatError(
            path, f"byte {error.start}", "the file is not UTF-8 text. Re-save it as UTF-8."
        ) from None


def _load_json(path: Path) -> list[tuple[str, Article, str | None]]:
    try:
        data = json.loads(_read_text(path))
    except json.JSONDecodeError as error:
        raise KnowledgeBaseFormatError(
            path, f"line {error.lineno}, column {error.colno}",
            f"not valid JSON ({error.msg}). Check for a missing comma or quote there.",
        ) from None
    if isinstance(data, Mapping) and isinstance(data.get("articles"), list):
        records = data["articles"]
    elif isinstance(data, list):
        records = data
    else:
        raise KnowledgeBaseFormatError(
            path, None,
            'expected a list of articles or an object {"articles": [...]} at the top level.',
        )
    return [
        (where, *_article_from_record(record, path, where))
        for where, record in ((f"record {n}", record) for n, record in enumerate(records, 1))
    ]


def _load_jsonl(path: Path) -> list[tuple[str, Article, str | None]]:
    articles = []
    for number, line in enumerate(_read_text(path).splitlines(), 1):
        if not line.strip():
            continue
        where = f"line {number}"
        try:
            record = json.loads(line)
        except json.JSONDecodeError as error:
            raise KnowledgeBaseFormatError(
                path, where,
                f"not valid JSON ({error.msg} at column {error.colno}). "
                "Each line must hold one complete article object.",
            ) from None
        articles.append((where, *_article_from_record(record, path, where)))
    return articles


def _article_from_record(record: Any, source: Path, where: str) -> tuple[Article, str | None]:
    """The record's article, and why customers cannot see it (Help Center records only)."""
    if not isinstance(record, Mapping):
        raise KnowledgeBaseFormatError(
            source, where,
            f"expected an object with id, title and body, got {type(record).__name__}. {_FIX_RECORD}",
        )
    if "html_url" in record:  # a Help Center API export: body is HTML, tags are label_names
        return _help_center_article(record, source, where), hidden_from_customers(record)
    # Another CMS's export (Intercom, Freshdesk, a WordPress plugin): its names for the
    # fields (COLUMNS), an HTML body read as text, a status or state that says the
    # article is not published honoured (a field "draft" of its own is not Zendesk's).
    article_id = _required_id(record, source, where)
    title = _required_text(record, _named(record, "title"), source, where)
    body = _required_str(record, _named(record, "body"), source, where)
    body = _as_text(body)
    return Article(
        id=article_id,
        title=title,
        body=body,
        url=_optional_str(record, _named(record, "url"), source, where),
        locale=locale_of(_optional_str(record, _named(record, "locale"), source, where), title, body),
        tags=_tags(record, _named(record, "tags"), source, where),
    ), _unpublished(record.get(_named(record, "status")))


def _named(record: Mapping[str, Any], field: str) -> str:
    """The record's name for ``field`` (:func:`_alias`), else the canonical one (which an
    error then names)."""
    return _alias(record, field) or COLUMNS[field][0]


def _alias(names: Container[str], field: str) -> str | None:
    """The first of COLUMNS' names for ``field`` that a record's keys or a sheet's
    columns hold, or None."""
    return next((name for name in COLUMNS[field] if name in names), None)


def _as_text(body: str) -> str:
    """``body`` as text: read as HTML when it holds one of _HTML_TAG's tags (a CMS's export)."""
    return html_to_text(body).text if _HTML_TAG.search(body) else body


def _unpublished(status: Any) -> str | None:
    """Why a record whose status (or Intercom's ``state``) says so is left out, or None."""
    return f"status '{status}'" if isinstance(status, str) and status.strip().casefold() in UNPUBLISHED else None


def _help_center_article(record: Mapping[str, Any], source: Path | str, where: str | None) -> Article:
    body_html = record.get("body")
    if body_html is not None and not isinstance(body_html, str):
        raise _field_error(source, where, "body", "must be HTML text or null")
    article_id = _required_id(record, source, where)
    title, body = _required_text(record, "title", source, where), html_to_text(body_html or "").text
    return Article(
        id=article_id,
        title=title,
        body=body,
        url=_optional_str(record, "html_url", source, where),
        locale=locale_of(_optional_str(record, "locale", source, where), title, body),
        tags=_tags(record, "label_names", source, where),
    )


def locale_of(given: str | None, title: str, body: str) -> str:
    """The article's locale: the one its record gives, else the language its title and
    body are clearly written in, else English.

    Why: a help center exported without locales (a docs folder, a CMS's JSON) was all
    read as English, so a Portuguese help center's articles were searched with English
    stemming and its Portuguese customers were answered as if across languages, with a
    note that the article was in English."""
    if given:
        return given
    return written_language(f"{title}\n{body}"[:_LANGUAGE_SAMPLE]) or DEFAULT_LOCALE


def _field_error(source: Path | str, where: str | None, field: str, problem: str) -> KnowledgeBaseFormatError:
    return KnowledgeBaseFormatError(source, where, f"field '{field}' {problem}. {_FIX_RECORD}")


def _required_id(record: Mapping[str, Any], source: Path | str, where: str | None) -> str:
    value = record.get("id")
    if isinstance(value, bool) or not isinstance(value, (str, int)) or not str(value).strip():
        raise _field_error(source, where, "id", "is missing; give every article a unique text or number id")
    return str(value).strip()


def _required_str(record: Mapping[str, Any], field: str, source: Path | str, where: str | None) -> str:
    value = record.get(field)
    if not isinstance(value, str):
        found = "missing" if value is None else f"a {type(value).__name__}"
        raise _field_error(source, where, field, f"must be text, but is {found}")
    return value.strip()


def _required_text(record: Mapping[str, Any], field: str, source: Path | str, where: str | None) -> str:
    value = _required_str(record, field, source, where)
    if not value:
        raise _field_error(source, where, field, "is empty")
    return value


def _optional_str(record: Mapping[str, Any], field: str, source: Path | str, where: str | None) -> str | None:
    value = record.get(field)
    if value is None:
        return None
    if not isinstance(value, str):
        raise _field_error(source, where, field, f"must be text or null, but is a {type(value).__name__}")
    return value.strip() or None


def _tags(record: Mapping[str, Any], field: str, source: Path | str, where: str | None) -> tuple[str, ...]:
    value = record.get(field)
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(tag, str) for tag in value):
        raise _field_error(source, where, field, "must be a list of text labels")
    return tuple(tag.strip() for tag in value if tag.strip())


def _unique(located: Iterable[tuple[str, Article]], source: Path) -> list[Article]:
    """Duplicate ids would make two articles share passage ids and citations."""
    first_seen: dict[str, str] = {}
    articles = []
    for where, article in located:
        if article.id in first_seen:
            raise KnowledgeBaseFormatError(
                source, where,
                f"field 'id' repeats '{article.id}', already used at {first_seen[article.id]}. "
                "Ids must be unique; give one of them a new id.",
            )
        first_seen[article.id] = where
        articles.append(article)
    return articles


# --- Spreadsheets ------------------------------------------------------------------------

#: The names a spreadsheet's header or another CMS's JSON may give each field, first the
#: canonical one: an FAQ sheet says question/answer, a CMS export title/content or
#: name/description (Freshdesk), Intercom's articles a state of "draft" or "published".
COLUMNS: dict[str, tuple[str, ...]] = {
    "id": ("id", "article id", "article_id"),
    "title": ("title", "question", "name", "subject"),
    "body": ("body", "answer", "content", "text", "description"),
    "url": ("url", "link", "html_url"),
    "locale": ("locale", "language", "lang"),
    "tags": ("tags", "labels", "label_names", "keywords"),
    "status": ("status", "state"),
}
#: A row whose status column says one of these is not published: left out, as a Help
#: Center draft is.
UNPUBLISHED = frozenset({"draft", "unpublished", "archived", "hidden"})
#: A body holding one of these tags is HTML (a CMS's export) and is read as text.
_HTML_TAG = re.compile(r"<(?:p|div|br|ul|ol|li|h[1-6]|a|strong|em|b|i|span|table|tr|td|img)\b[^>]*>", re.IGNORECASE)
_NOT_IN_ID = re.compile(r"[^\w]+")


def _load_spreadsheet(path: Path) -> list[tuple[str, Article, str | None]]:
    """A CSV (or TSV) whose first line names its columns: a title and a body column at
    least (see COLUMNS), read strictly (core/store/csv_rows.py: a quote left open is
    reported on its own line). Without an id column an article's id is its title,
    lowercased and hyphened, so re-importing an edited or sorted sheet updates each
    article rather than adding it again."""
    text = _read_text(path)
    try:
        columns, rows = read_rows(text, delimiter=header_delimiter(text, tsv=path.suffix.lower() == ".tsv"))
    except CsvFormatError as error:
        raise KnowledgeBaseFormatError(path, f"line {error.line}", error.problem) from None
    if not any(columns):
        raise KnowledgeBaseFormatError(path, "line 1", "is empty: the first line must name the columns, "
                                                       "e.g. title,body (or question,answer).")
    column = {field: _alias(columns, field) for field in COLUMNS}
    if column["title"] is None or column["body"] is None:
        raise KnowledgeBaseFormatError(
            path, "line 1",
            "needs a 'title' column (or 'question') and a 'body' column (or 'answer'); its columns are "
            + ", ".join(repr(name) for name in columns if name) + ".")
    located: list[tuple[str, Article, str | None]] = []
    titled: dict[str, str] = {}
    for row in rows:
        where = f"line {row.line}"
        record = {field: row.values[name].strip() if name else "" for field, name in column.items()}
        title, body = record["title"], record["body"]
        for field, value in (("title", title), ("body", body)):
            if not value:
                raise _field_error(path, where, str(column[field]), "is empty")
        body = _as_text(body)
        article_id = record["id"] or _NOT_IN_ID.sub("-", title.casefold()).strip("-")[:80] or f"line-{row.line}"
        if column["id"] is None and article_id in titled:
            raise KnowledgeBaseFormatError(
                path, where,
                f"has the same title as {titled[article_id]} ({title[:80]!r}): add an 'id' column to tell "
                "them apart, or merge the two rows.")
        titled[article_id] = where
        tags = tuple(tag.strip() for tag in re.split(r"[;,|]", record["tags"]) if tag.strip())
        located.append((where, Article(id=article_id, title=title, body=body, url=record["url"] or None,
                                       locale=locale_of(record["locale"] or None, title, body), tags=tags),
                        _unpublished(record["status"])))
    return located


# --- Markdown and HTML folders ------------------------------------------------------------

def _load_folder(folder: Path) -> list[Article]:
    files = sorted(
        file for file in folder.rglob("*")
        if file.is_file()
        and file.suffix.lower() in MARKDOWN_SUFFIXES | HTML_SUFFIXES
        and not any(part.startswith(".") for part in file.relative_to(folder).parts)
    )
    if not files:
        raise KnowledgeBaseFormatError(
            folder, None, "holds no .md, .markdown, .html or .htm files to import."
        )
    located = [(str(file.relative_to(folder)), _article_from_file(file, folder)) for file in files]
    return _unique(located, folder)


def _article_from_file(file: Path, root: Path) -> Article:
    text = _read_text(file)
    meta, text = _front_matter(text, file)
    if file.suffix.lower() in MARKDOWN_SUFFIXES:
        heading, body = _markdown_to_text(text)
    else:
        extracted = html_to_text(text)
        heading, body = extracted.title, extracted.text
        first, _, rest = body.partition("\n\n")
        if heading and first == heading:  # the <h1> repeats the title: keep it once
            body = rest
    where = "front matter"
    title = _optional_str(meta, "title", file, where) or heading or _title_from_name(file)
    if not body.strip():
        raise KnowledgeBaseFormatError(
            file, None, "has no article text after its title. Write the article or delete the file."
        )
    default_id = file.relative_to(root).with_suffix("").as_posix()
    return Article(
        id=_required_id({"id": meta.get("id", default_id)}, file, where),
        title=title,
        body=body.strip(),
        url=_optional_str(meta, "url", file, where),
        locale=locale_of(_optional_str(meta, "locale", file, where), title, body),
        tags=_tags(meta, "tags", file, where),
    )


def _front_matter(text: str, file: Path) -> tuple[Mapping[str, Any], str]:
    """Jekyll/Hugo-style YAML front matter, so docs folders can carry url, tags and locale."""
    match = _FRONT_MATTER.match(text)
    if not match:
        return {}, text
    try:
        meta = yaml.safe_load(match.group(1)) or {}
    except yaml.YAMLError as error:
        raise KnowledgeBaseFormatError(
            file, "front matter", f"is not valid YAML ({error}). Fix the block between the '---' lines."
        ) from None
    if not isinstance(meta, Mapping):
        raise KnowledgeBaseFormatError(
            file, "front matter", "must be a YAML mapping such as 'title: ...' lines."
        )
    return meta, text[match.end():]


_MARKDOWN = MarkdownIt("commonmark")


def _markdown_to_text(text: str) -> tuple[str | None, str]:
    """(first heading, the rest as plain text); rendering through HTML reuses one converter."""
    tokens = _MARKDOWN.parse(text)
    title = None
    for index, token in enumerate(tokens):
        if token.type == "heading_open":
            inline = tokens[index + 1]
            title = html_to_text(_MARKDOWN.renderInline(inline.content)).text or None
            tokens = tokens[:index] + tokens[index + 3:]
            break
    html = _MARKDOWN.renderer.render(tokens, _MARKDOWN.options, {})
    return title, html_to_text(html).text


def _title_from_name(file: Path) -> str:
    words = re.sub(r"[-_]+", " ", file.stem).strip()
    return words[:1].upper() + words[1:] if words else file.name
