"""Loading articles from JSON, JSONL, spreadsheets, Markdown/HTML folders and Help Center exports."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

import switchboard
from switchboard.core.knowledge import (
    KnowledgeBaseFormatError,
    article_from_help_center,
    load_articles,
)
from switchboard.core.knowledge.loaders import read_articles
from switchboard.core.knowledge.records import Article

SAMPLE_KB = Path(switchboard.__file__).parent / "data" / "sample_kb.json"

RECORDS = [
    {"id": "returns", "title": "How do I return an item?", "body": "Use the returns page.",
     "url": "https://help.acme.example/articles/returns", "locale": "en-GB", "tags": ["returns"]},
    {"id": 42, "title": "Opening hours", "body": "Monday to Friday, 8 am to 8 pm."},
]


def write_json(path: Path, data: object) -> Path:
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def test_json_list_becomes_articles_with_optional_fields_defaulted(tmp_path: Path) -> None:
    articles = load_articles(write_json(tmp_path / "kb.json", RECORDS))

    assert articles == [
        Article(id="returns", title="How do I return an item?", body="Use the returns page.",
                url="https://help.acme.example/articles/returns", locale="en-GB", tags=("returns",)),
        Article(id="42", title="Opening hours", body="Monday to Friday, 8 am to 8 pm."),
    ]


def test_json_object_with_articles_key_is_accepted(tmp_path: Path) -> None:
    articles = load_articles(write_json(tmp_path / "kb.json", {"articles": RECORDS}))

    assert [a.id for a in articles] == ["returns", "42"]


def test_jsonl_reads_one_article_per_line_and_skips_blank_lines(tmp_path: Path) -> None:
    path = tmp_path / "kb.jsonl"
    path.write_text(json.dumps(RECORDS[0]) + "\n\n" + json.dumps(RECORDS[1]) + "\n", encoding="utf-8")

    assert [a.title for a in load_articles(path)] == ["How do I return an item?", "Opening hours"]


def test_markdown_folder_takes_title_from_heading_and_id_from_relative_path(tmp_path: Path) -> None:
    (tmp_path / "returns").mkdir()
    (tmp_path / "returns" / "how-to-return.md").write_text(
        "---\nurl: https://help.acme.example/articles/how-to-return\ntags: [returns, labels]\n---\n"
        "# How do I **return** an item?\n\n"
        "Print the [prepaid label](https://acme.example/label) and:\n\n"
        "- pack the item\n- drop it off\n\n"
        "Refunds take `3 days`.\n",
        encoding="utf-8",
    )
    (tmp_path / ".drafts").mkdir()
    (tmp_path / ".drafts" / "secret.md").write_text("# Not published\n\nHidden.", encoding="utf-8")

    [article] = load_articles(tmp_path)

    assert article.id == "returns/how-to-return"
    assert article.title == "How do I return an item?"
    assert article.url == "https://help.acme.example/articles/how-to-return"
    assert article.tags == ("returns", "labels")
    assert article.body == (
        "Print the prepaid label and:\n\n- pack the item\n- drop it off\n\nRefunds take 3 days."
    )


def test_html_file_takes_title_from_title_tag_and_drops_scripts_menus_and_markup(tmp_path: Path) -> None:
    (tmp_path / "card-declined.html").write_text(
        "<html><head><title>Why was my card declined?</title><style>p{color:red}</style></head>"
        "<body><nav><a href='/'>Home</a> | <a href='/help'>Help</a></nav>"
        "<h1>Why was my card declined?</h1><p>Your bank declined it.</p>"
        "<script>track()</script><ul><li>Check the address</li><li>Try PayPal</li></ul>"
        "<p>Fees &amp; holds are released.</p><footer><p>&copy; Acme Ltd</p></footer></body></html>",
        encoding="utf-8",
    )

    [article] = load_articles(tmp_path)

    assert article.id == "card-declined"
    assert article.title == "Why was my card declined?"
    assert article.body == (
        "Your bank declined it.\n\n- Check the address\n- Try PayPal\n\nFees & holds are released."
    )


def test_headings_open_sections_in_html_and_markdown(tmp_path: Path) -> None:
    """A heading after the first paragraph opens a section (two blank lines before it),
    which chunking keeps in passages of its own; other blocks stay one blank line apart."""
    (tmp_path / "faq.md").write_text("# FAQ\n\nOur answers.\n\n## Can I change my order?\n\nWithin one hour.\n\n"
                                     "- from the Orders page\n- or by phone\n\n### Gift wrap?\n\nYes, $3.\n",
                                     encoding="utf-8")
    [article] = load_articles(tmp_path / "faq.md")
    assert article.title == "FAQ"
    assert article.body == ("Our answers.\n\n\nCan I change my order?\n\nWithin one hour.\n\n"
                            "- from the Orders page\n- or by phone\n\n\nGift wrap?\n\nYes, $3.")
    record = {"id": 1, "title": "FAQ", "html_url": "https://acme.zendesk.com/hc/en-us/articles/1",
              "body": "<h2>Can I change my order?</h2><p>Within one hour.</p><h2>Gift wrap?</h2><p>Yes, $3.</p>"}
    assert article_from_help_center(record).body == ("Can I change my order?\n\nWithin one hour.\n\n\n"
                                                     "Gift wrap?\n\nYes, $3.")


def test_a_table_is_read_a_row_at_a_time_under_its_header() -> None:
    """A rates table's cells were a paragraph each, so "$9.95" stood apart from
    "Express": each row is one line now, its cells named by the header row's."""
    record = {"id": 2, "title": "Delivery options", "html_url": "https://acme.zendesk.com/hc/en-us/articles/2",
              "body": "<p>Choose at checkout:</p><table><thead><tr><th>Service</th><th>Time</th><th>Price</th></tr>"
                      "</thead><tbody><tr><td>Standard</td><td>3-5 working days</td><td>$4.95</td></tr>"
                      "<tr><td><p>Express</p></td><td>Next<br>working day</td><td>$9.95</td></tr></tbody></table>"
                      "<table><tr><td>Visa</td><td>accepted</td></tr></table>"}
    assert article_from_help_center(record).body == (
        "Choose at checkout:\n\nService: Standard; Time: 3-5 working days; Price: $4.95\n\n"
        "Service: Express; Time: Next working day; Price: $9.95\n\nVisa; accepted")
    left_open = {**record, "body": "<table><tr><th>Card</th><th>Fee</th></tr><tr><td>Visa</td><td>none"}
    assert article_from_help_center(left_open).body == "Card: Visa; Fee: none"  # nothing lost


def test_html_without_title_tag_uses_first_h1(tmp_path: Path) -> None:
    (tmp_path / "a.htm").write_text("<h1>Warranty</h1><p>Two years.</p>", encoding="utf-8")

    [article] = load_articles(tmp_path)

    assert (article.title, article.body) == ("Warranty", "Two years.")


def test_file_without_heading_is_titled_from_its_name(tmp_path: Path) -> None:
    (tmp_path / "opening-hours.md").write_text("Monday to Friday.", encoding="utf-8")

    assert load_articles(tmp_path)[0].title == "Opening hours"


def test_reloading_gives_the_same_ids(tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    (docs / "b").mkdir(parents=True)
    (docs / "b" / "two.md").write_text("# Two\n\nText.", encoding="utf-8")
    (docs / "one.html").write_text("<h1>One</h1><p>Text.</p>", encoding="utf-8")
    json_path = write_json(tmp_path / "kb.json", RECORDS)

    assert [a.id for a in load_articles(docs)] == ["b/two", "one"]
    assert load_articles(docs) == load_articles(docs)
    assert load_articles(json_path) == load_articles(json_path)


@pytest.mark.parametrize(
    ("record", "field", "problem"),
    [
        ({"id": "x", "body": "text"}, "title", "must be text, but is missing"),
        ({"id": "x", "title": "  ", "body": "text"}, "title", "is empty"),
        ({"title": "T", "body": "text"}, "id", "is missing"),
        ({"id": "x", "title": "T"}, "body", "must be text, but is missing"),
        ({"id": "x", "title": "T", "body": ["a"]}, "body", "must be text, but is a list"),
        ({"id": "x", "title": "T", "body": "b", "tags": "returns"}, "tags", "must be a list"),
        ({"id": "x", "title": "T", "body": "b", "url": 3}, "url", "must be text or null"),
    ],
)
def test_bad_json_record_names_file_record_and_field(
    tmp_path: Path, record: dict, field: str, problem: str
) -> None:
    path = write_json(tmp_path / "kb.json", [RECORDS[0], record])

    with pytest.raises(KnowledgeBaseFormatError) as raised:
        load_articles(path)

    message = str(raised.value)
    assert str(path) in message
    assert "record 2" in message
    assert f"field '{field}' {problem}" in message


def test_bad_jsonl_line_is_reported_by_line_number(tmp_path: Path) -> None:
    path = tmp_path / "kb.jsonl"
    path.write_text(json.dumps(RECORDS[0]) + "\n\n{\"id\": \"x\", \"title\": \"T\"\n", encoding="utf-8")

    with pytest.raises(KnowledgeBaseFormatError, match=r"kb\.jsonl, line 3: not valid JSON"):
        load_articles(path)


def test_jsonl_record_missing_field_is_reported_by_line_number(tmp_path: Path) -> None:
    path = tmp_path / "kb.jsonl"
    path.write_text(json.dumps(RECORDS[0]) + "\n" + json.dumps({"id": "x", "body": "b"}) + "\n",
                    encoding="utf-8")

    with pytest.raises(KnowledgeBaseFormatError, match=r"line 2: field 'title'"):
        load_articles(path)


def test_invalid_json_points_at_line_and_column(tmp_path: Path) -> None:
    path = tmp_path / "kb.json"
    path.write_text('[\n  {"id": "a", "title": "T" "body": "b"}\n]', encoding="utf-8")

    with pytest.raises(KnowledgeBaseFormatError, match=r"line 2, column \d+: not valid JSON"):
        load_articles(path)


def test_duplicate_ids_are_refused_naming_both_records(tmp_path: Path) -> None:
    path = write_json(tmp_path / "kb.json", [RECORDS[0], {**RECORDS[1], "id": "returns"}])

    expected = r"record 2: field 'id' repeats 'returns', already used at record 1"
    with pytest.raises(KnowledgeBaseFormatError, match=expected):
        load_articles(path)


def test_top_level_must_be_a_list_or_articles_object(tmp_path: Path) -> None:
    with pytest.raises(KnowledgeBaseFormatError, match=r"expected a list of articles"):
        load_articles(write_json(tmp_path / "kb.json", {"items": []}))


def test_non_utf8_file_is_refused_with_advice(tmp_path: Path) -> None:
    path = tmp_path / "kb.json"
    path.write_bytes('[{"id": "a", "title": "Caf\u00e9"}]'.encode("latin-1"))

    with pytest.raises(KnowledgeBaseFormatError, match="not UTF-8 text. Re-save it as UTF-8"):
        load_articles(path)


def test_unsupported_suffix_says_which_formats_work(tmp_path: Path) -> None:
    path = tmp_path / "kb.xlsx"
    path.write_text("id,title\n", encoding="utf-8")

    with pytest.raises(KnowledgeBaseFormatError, match=r"\.jsonl file with one article per line, a \.csv"):
        load_articles(path)


def test_a_spreadsheet_of_questions_and_answers_becomes_articles(tmp_path: Path) -> None:
    """An FAQ kept in a spreadsheet, saved from Excel (a byte-order mark, semicolons,
    an answer over two lines, a blank row, HTML from a CMS): each row an article whose
    id is its title, so re-importing a sorted or edited sheet updates the same articles."""
    path = tmp_path / "faq.csv"
    path.write_text("\ufeffQuestion;Answer;Link;Tags\n"
                    "How do I return an item?;\"Use the returns page.\nRefunds take 5 days.\";"
                    "https://help.acme.example/returns;returns, refunds\n"
                    ";;;\n"
                    "Opening hours;\"<p>Monday to <strong>Friday</strong>, 8&nbsp;am to 8&nbsp;pm.</p>\";;\n",
                    encoding="utf-8")
    articles = load_articles(path)
    assert [(a.id, a.title) for a in articles] == [("how-do-i-return-an-item", "How do I return an item?"),
                                                   ("opening-hours", "Opening hours")]
    assert articles[0].body == "Use the returns page.\nRefunds take 5 days."
    assert articles[0].url == "https://help.acme.example/returns" and articles[0].tags == ("returns", "refunds")
    assert articles[1].body == "Monday to Friday, 8 am to 8 pm." and articles[1].url is None
    assert articles[0].locale == "en"
    sorted_sheet = tmp_path / "sorted.csv"
    sorted_sheet.write_text("title,body\nOpening hours,Monday to Friday.\n"
                            "How do I return an item?,Use the returns page.\n", encoding="utf-8")
    assert [a.id for a in load_articles(sorted_sheet)] == ["opening-hours", "how-do-i-return-an-item"]


def test_a_spreadsheets_ids_locales_and_unpublished_rows_are_kept_apart(tmp_path: Path) -> None:
    path = tmp_path / "articles.tsv"
    path.write_text("id\ttitle\tbody\tlocale\tstatus\n"
                    "17\tDevoluciones\tPuede devolver un artículo en 30 días.\tes\tpublished\n"
                    "18\tSpring sale\tEverything is 40% off.\t\tDraft\n", encoding="utf-8")
    articles, left_out = read_articles(path)
    assert [(a.id, a.locale) for a in articles] == [("17", "es")]
    assert [(item.id, item.reason) for item in left_out] == [("18", "status 'Draft'")]


@pytest.mark.parametrize(("sheet", "message"), [
    ("question,reply\nHi,there\n", r"line 1: needs a 'title' column \(or 'question'\) and a 'body' column "
                                     r"\(or 'answer'\); its columns are 'question', 'reply'"),
    ("", r"line 1: is empty: the first line must name the columns"),
    ("question,answer\nRefunds,Five days.\n,Orphan answer\n", r"line 3: field 'question' is empty"),
    ("title,body\nRefunds,Five days.\nGift cards,\n", r"line 3: field 'body' is empty"),
    ("title,body\nRefunds,Five days.\nrefunds!,Ten days.\n",
     r"line 3: has the same title as line 2 \('refunds!'\): add an 'id' column"),
    ("id,title,body\n1,Refunds,Five days.\n1,Gift cards,Never expire.\n",
     r"line 3: field 'id' repeats '1', already used at line 2"),
    ('title,body\n"Refunds,Five days.\nGift cards,Never expire.\n', r"line 2: a quote opens a field here and is never"),
])
def test_a_bad_spreadsheet_names_the_row_and_column(tmp_path: Path, sheet: str, message: str) -> None:
    path = tmp_path / "kb.csv"
    path.write_text(sheet, encoding="utf-8")
    with pytest.raises(KnowledgeBaseFormatError, match=message):
        load_articles(path)


def test_folder_without_articles_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("hello", encoding="utf-8")

    with pytest.raises(KnowledgeBaseFormatError, match="holds no .md"):
        load_articles(tmp_path)


def test_markdown_file_with_only_a_heading_is_refused(tmp_path: Path) -> None:
    (tmp_path / "empty.md").write_text("# Just a title\n", encoding="utf-8")

    with pytest.raises(KnowledgeBaseFormatError, match=r"empty\.md: has no article text"):
        load_articles(tmp_path)


def test_broken_front_matter_names_the_file(tmp_path: Path) -> None:
    (tmp_path / "a.md").write_text("---\ntags: [unclosed\n---\n# A\n\nText.", encoding="utf-8")

    with pytest.raises(KnowledgeBaseFormatError, match=r"a\.md, front matter: is not valid YAML"):
        load_articles(tmp_path)


def test_missing_path_is_file_not_found(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="no such file or folder"):
        load_articles(tmp_path / "nope.json")


HELP_CENTER_ARTICLE = {
    "id": 360001234567,
    "url": "https://acme.zendesk.com/api/v2/help_center/en-us/articles/360001234567.json",
    "html_url": "https://acme.zendesk.com/hc/en-us/articles/360001234567-Returns",
    "title": "Returns",
    "body": "<p>Return within <strong>30 days</strong>.</p><p>Refunds in 5&nbsp;days.</p>",
    "locale": "en-us",
    "label_names": ["returns", "refunds"],
    "draft": False,
}


def test_help_center_article_maps_zendesk_fields() -> None:
    article = article_from_help_center(HELP_CENTER_ARTICLE)

    assert article == Article(
        id="360001234567", title="Returns", body="Return within 30 days.\n\nRefunds in 5 days.",
        url="https://acme.zendesk.com/hc/en-us/articles/360001234567-Returns", locale="en-us",
        tags=("returns", "refunds"),
    )


def test_help_center_article_without_title_is_refused() -> None:
    with pytest.raises(KnowledgeBaseFormatError, match="field 'title'"):
        article_from_help_center({**HELP_CENTER_ARTICLE, "title": None})


def test_help_center_export_file_is_recognised_by_html_url(tmp_path: Path) -> None:
    path = write_json(tmp_path / "export.json", {"articles": [HELP_CENTER_ARTICLE], "next_page": None})

    [article] = load_articles(path)

    assert article.body == "Return within 30 days.\n\nRefunds in 5 days."
    assert article.tags == ("returns", "refunds")


def test_sample_knowledge_base_loads_as_documented() -> None:
    articles = load_articles(SAMPLE_KB)

    assert 15 <= len(articles) <= 25
    assert len({a.id for a in articles}) == len(articles)
    for article in articles:
        assert article.url == f"https://help.acme.example/articles/{article.id}"
        assert article.locale == "en"
        assert article.tags
        assert len(article.body.split()) >= 30


def test_a_help_center_jsonl_dump_leaves_out_what_customers_cannot_see(tmp_path: Path) -> None:
    """Only Help Center records (they carry ``html_url``) are judged: a plain record with
    a ``draft`` field of its own is the company's article, kept as written."""
    def record(number: int, **extra: object) -> dict[str, object]:
        return {"id": number, "title": f"Article {number}", "body": "<p>Text.</p>",
                "html_url": f"https://acme.zendesk.com/hc/en-us/articles/{number}", **extra}
    dump = tmp_path / "help_center.jsonl"
    dump.write_text("\n".join(json.dumps(r) for r in [
        record(1, draft=False, user_segment_id=None), record(2, draft=True), record(3, user_segment_id=77),
        record(4, user_segment_ids=[77, 78]), record(5, user_segment_ids=[]),
        {"id": "plain", "title": "Plain", "body": "Kept.", "draft": True}]), encoding="utf-8")
    articles, left_out = read_articles(dump)
    assert [a.id for a in articles] == ["1", "5", "plain"]
    assert [(item.id, item.reason) for item in left_out] == [
        ("2", "a draft"), ("3", "restricted to a user segment"), ("4", "restricted to a user segment")]
    assert load_articles(dump) == articles


def test_another_cms_export_is_read_by_its_own_field_names(tmp_path: Path) -> None:
    """Intercom's articles (HTML body, ``state``) and Freshdesk's (``description``):
    the HTML is read as text (a customer must never be texted a tag) and a draft is
    left out, named."""
    export = write_json(tmp_path / "intercom.json", {"articles": [
        {"id": "8801", "title": "Cancel a subscription", "state": "published",
         "url": "https://help.acme.example/en/articles/8801",
         "body": "<p>Open <b>Billing</b> and choose <i>Cancel</i>.</p><ul><li>Refunds are pro rata</li></ul>"},
        {"id": "8802", "title": "New pricing (coming)", "state": "draft", "body": "<p>Prices rise in May.</p>"},
        {"id": 12, "name": "Reset your PIN", "description": "<div>Tap <b>Card</b>, then <b>Reset PIN</b>.</div>"}]})
    articles, left_out = read_articles(export)
    assert [(a.id, a.title, a.body) for a in articles] == [
        ("8801", "Cancel a subscription", "Open Billing and choose Cancel.\n\n- Refunds are pro rata"),
        ("12", "Reset your PIN", "Tap Card, then Reset PIN.")]
    assert articles[0].url == "https://help.acme.example/en/articles/8801"
    assert [(item.id, item.reason) for item in left_out] == [("8802", "status 'draft'")]
    with pytest.raises(KnowledgeBaseFormatError, match=r"record 1: field 'body' must be text, but is missing"):
        load_articles(write_json(tmp_path / "bad.json", [{"id": 1, "title": "No text"}]))


def test_every_format_reads_an_article_without_a_locale_in_the_language_of_its_text(tmp_path: Path) -> None:
    """A JSON record, a Markdown file without front matter and a Help Center record
    without `locale` are read as Portuguese when they are; one that gives a locale keeps it."""
    body = ("Pode devolver qualquer artigo no prazo de 30 dias após a entrega. O reembolso é feito no mesmo "
            "meio de pagamento em 5 dias úteis depois de recebermos o artigo.")
    json_kb = write_json(tmp_path / "kb.json", [{"id": "devolucoes", "title": "Devoluções", "body": body},
                                                {"id": "given", "title": "Devoluções", "body": body, "locale": "es"}])
    assert [a.locale for a in load_articles(json_kb)] == ["pt", "es"]
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "devolucoes.md").write_text(f"# Devoluções e reembolsos\n\n{body}\n", encoding="utf-8")
    assert [a.locale for a in load_articles(folder)] == ["pt"]
    record = {"id": 7, "title": "Devoluções e reembolsos", "body": f"<p>{body}</p>",
              "html_url": "https://acme.zendesk.com/hc/pt/articles/7"}
    assert article_from_help_center(record).locale == "pt"
