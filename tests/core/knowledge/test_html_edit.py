"""An approved edit written back to a Help Center article keeps what the article's text
never held (links, images, emphasis, headings, lists), and a new article's text is
written as HTML that reads back as the same text."""
from __future__ import annotations

import pytest

from switchboard.core.knowledge.html_edit import HtmlEditError, revised_html, text_to_html
from switchboard.core.knowledge.html_text import html_to_text

ARTICLE = ('<p>Gift cards are valid for <strong>12 months</strong> from the date of purchase. They can be used on '
           'any order on <a href="https://acme.example/shop">our website</a>.</p>'
           '<p><img src="https://acme.example/card.png" alt="A gift card"></p>'
           '<h2>Checking the balance</h2>'
           '<ul><li>Open My Account &gt; Gift cards</li><li>Enter the card&rsquo;s code</li></ul>')
TEXT = html_to_text(ARTICLE).text


def test_a_reworded_sentence_changes_its_words_where_they_stand_and_the_rest_stays_byte_for_byte() -> None:
    after = TEXT.replace("valid for 12 months", "valid for 24 months")
    revised = revised_html(ARTICLE, TEXT, after)
    assert revised == ARTICLE.replace("<strong>12 months</strong>", "<strong>24 months</strong>")
    assert html_to_text(revised).text == after
    fewer = TEXT.replace("They can be used on any order", "They work on any order")
    assert revised_html(ARTICLE, TEXT, fewer) == ARTICLE.replace("They can be used on", "They work on")
    more = TEXT.replace("from the date of purchase", "from the exact date of your purchase")
    assert revised_html(ARTICLE, TEXT, more) == ARTICLE.replace("the date of purchase",
                                                                "the exact date of your purchase")
    first = TEXT.replace("Gift cards are valid", "Cards are valid")
    assert revised_html(ARTICLE, TEXT, first) == ARTICLE.replace("<p>Gift cards", "<p>Cards")


def test_sentences_rewritten_together_are_replaced_with_their_tags_kept() -> None:
    after = TEXT.replace("Gift cards are valid for 12 months from the date of purchase. They can be used on any "
                         "order on our website.", "Gift cards never expire and work everywhere.")
    revised = revised_html(ARTICLE, TEXT, after)
    assert revised.startswith('<p>Gift cards never expire and work everywhere.<strong></strong>'
                              '<a href="https://acme.example/shop"></a></p><p><img')  # nothing left half open
    assert html_to_text(revised).text == after


def test_an_added_sentence_closing_the_text_is_a_paragraph_at_the_end() -> None:
    after = TEXT + "\n\nYou can also check the balance in our app."
    revised = revised_html(ARTICLE, TEXT, after)
    assert revised == ARTICLE + "<p>You can also check the balance in our app.</p>"
    assert html_to_text(revised).text == after


def test_a_sentence_added_after_another_joins_it_and_a_removed_one_goes() -> None:
    after = TEXT.replace("from the date of purchase.", "from the date of purchase. They never expire in Germany.")
    revised = revised_html(ARTICLE, TEXT, after)
    assert "purchase. They never expire in Germany. They can be used" in revised
    removed = TEXT.replace(" They can be used on any order on our website.", "")
    revised = revised_html(ARTICLE, TEXT, removed)
    assert "any order" not in revised and html_to_text(revised).text == removed
    assert '<a href="https://acme.example/shop"></a>' in revised  # its tags kept: nothing left unbalanced


def test_entities_and_list_items_are_found_as_html_writes_them() -> None:
    after = TEXT.replace("Enter the card\u2019s code", "Enter the card\u2019s 16-digit code")
    revised = revised_html(ARTICLE, TEXT, after)
    assert "<li>Enter the card&rsquo;s 16-digit code</li>" in revised
    assert "<li>Open My Account &gt; Gift cards</li>" in revised


def test_an_edit_already_applied_changes_nothing() -> None:
    after = TEXT.replace("valid for 12 months", "valid for 24 months")
    once = revised_html(ARTICLE, TEXT, after)
    assert revised_html(once, TEXT, after) == once  # a retried call writes the same body


def test_an_article_edited_in_the_help_center_since_is_not_overwritten() -> None:
    edited_there = ARTICLE.replace("from the date of purchase", "from the day you buy it")
    after = TEXT.replace("valid for 12 months", "valid for 24 months")
    with pytest.raises(HtmlEditError, match="Gift cards are valid for 12 months .* no longer in the Help Center"):
        revised_html(edited_there, TEXT, after)
    # A change elsewhere in the article is no conflict: the edit applies to the newer HTML.
    other = ARTICLE.replace("Enter the card&rsquo;s code", "Type the code on the back")
    revised = revised_html(other, TEXT, after)
    assert "valid for <strong>24 months</strong>" in revised and "Type the code on the back" in revised


def test_an_edit_that_does_not_say_what_it_changed_writes_nothing() -> None:
    with pytest.raises(HtmlEditError, match="Nothing was written"):
        revised_html(ARTICLE, "", TEXT + " One more sentence.")


def test_words_of_a_sentence_inside_an_attribute_are_not_its_text() -> None:
    article = '<p><img alt="Refunds take 5 days." src="x.png"></p><p>Refunds take 5 days.</p>'
    revised = revised_html(article, "Refunds take 5 days.", "Refunds take 3 days.")
    assert revised == '<p><img alt="Refunds take 5 days." src="x.png"></p><p>Refunds take 3 days.</p>'


def test_a_new_articles_text_is_written_with_its_structure() -> None:
    text = ("Gift cards are valid for 24 months.\nThey work online & in shops.\n\n\nChecking the balance\n\n"
            "- Open My Account > Gift cards\n- Enter the code\n\n1. Sign in\n2. Choose Gift cards")
    written = text_to_html(text)
    assert written == ("<p>Gift cards are valid for 24 months.<br>They work online &amp; in shops.</p>"
                       "<h2>Checking the balance</h2>"
                       "<ul><li>Open My Account &gt; Gift cards</li><li>Enter the code</li></ul>"
                       "<ol><li>Sign in</li><li>Choose Gift cards</li></ol>")
    read = html_to_text(written).text
    assert "\n\n\nChecking the balance\n\n- Open My Account > Gift cards\n- Enter the code" in read
    assert html_to_text(text_to_html(TEXT)).text == TEXT  # what the reader wrote, written back, reads the same


def test_a_table_row_the_text_reads_cell_by_cell_is_not_guessed_at() -> None:
    article = "<table><tr><th>Service</th><th>Price</th></tr><tr><td>Express</td><td>$9.95</td></tr></table>"
    text = html_to_text(article).text
    assert text == "Service: Express; Price: $9.95"
    with pytest.raises(HtmlEditError, match="table row"):
        revised_html(article, text, "Service: Express; Price: $12.95")
