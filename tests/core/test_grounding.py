from __future__ import annotations

import pytest

from switchboard.core.answers.grounding import check_grounded, split_sentences
from switchboard.core.knowledge.records import Passage

RETURNS = Passage(
    id="returns#0", article_id="returns", title="Returns policy",
    text=("Unworn items can be returned within 14 days of delivery. We refund the full price "
          "to your original payment method within five business days. Sale items cannot be returned."),
    url="https://help.acme.test/returns",
)
SHIPPING = Passage(
    id="shipping#0", article_id="shipping", title="Shipping",
    text="Standard delivery takes 3-5 business days. Express delivery costs $9.99.",
)
KB = [RETURNS, SHIPPING]


# -- splitting ----------------------------------------------------------------------

def test_split_keeps_urls_abbreviations_and_decimals_inside_sentences() -> None:
    text = ("Refunds take 3.5 days on average, e.g. via Visa. See https://help.acme.test/returns.html "
            "for details. Express costs $4.99. We open at 9 a.m. Monday to Friday!")
    assert split_sentences(text) == [
        "Refunds take 3.5 days on average, e.g. via Visa.",
        "See https://help.acme.test/returns.html for details.",
        "Express costs $4.99.",
        "We open at 9 a.m. Monday to Friday!",
    ]


def test_split_handles_questions_emails_and_lower_case_continuations() -> None:
    text = "Can I pay later? Email help@acme.test. It takes approx. two days, etc. and then it ships."
    assert split_sentences(text) == [
        "Can I pay later?", "Email help@acme.test.", "It takes approx. two days, etc. and then it ships.",
    ]


def test_split_ends_sentences_at_line_breaks_and_drops_list_markers() -> None:
    text = "To reset your password:\n1. Open the app\n2. Tap Settings.\n- Choose Reset"
    assert split_sentences(text) == ["To reset your password:", "Open the app", "Tap Settings.", "Choose Reset"]


def test_split_keeps_citation_markers_with_the_sentence_they_end() -> None:
    assert split_sentences("Refunds take 14 days. [1] Sale items cannot be returned [2].") == [
        "Refunds take 14 days. [1]", "Sale items cannot be returned [2].",
    ]


def test_chinese_and_japanese_sentences_end_at_their_full_stops_without_a_space() -> None:
    assert split_sentences("我们收到退货后会处理退款。退款会在五个工作日内到账！需要发票吗？请下载。") == [
        "我们收到退货后会处理退款。", "退款会在五个工作日内到账！", "需要发票吗？", "请下载。",
    ]
    assert split_sentences("発送前ならキャンセルできます。「はい」と言った。") == [
        "発送前ならキャンセルできます。", "「はい」と言った。",
    ]


CHINESE = [Passage(id="zh-refund#0", article_id="zh-refund", title="退款什么时候到账？", locale="zh",
                   text="我们收到退货后会在两个工作日内处理退款。退款会在五个工作日内退回到您的原支付方式。")]


def test_a_chinese_draft_is_read_in_character_pairs_as_the_index_reads_it() -> None:
    """A whole unspaced clause was one "word": a faithful Chinese draft shared no word
    with its passage and was refused, and an invented one could not be told apart."""
    assert check_grounded("退款会在五个工作日内退回到原支付方式。", CHINESE).ok
    assert not check_grounded("退款会在当天以现金形式送到您家。", CHINESE).ok


# -- support ------------------------------------------------------------------------

def test_a_paraphrase_of_a_passage_is_supported_by_that_passage() -> None:
    result = check_grounded("You can return unworn items within 14 days of delivery [1].", KB)
    assert result.ok
    assert result.unsupported == ()
    assert result.support == (("You can return unworn items within 14 days of delivery [1].", "returns#0"),)


def test_each_sentence_is_mapped_to_its_own_passage() -> None:
    result = check_grounded("Express delivery costs $9.99. Sale items cannot be returned.", KB)
    assert result.ok
    assert dict(result.support) == {
        "Express delivery costs $9.99.": "shipping#0",
        "Sale items cannot be returned.": "returns#0",
    }


def test_a_changed_number_is_unsupported_even_when_every_word_matches() -> None:
    result = check_grounded("You can return unworn items within 30 days of delivery.", KB)
    assert not result.ok
    assert result.unsupported == ("You can return unworn items within 30 days of delivery.",)
    assert "30" in dict(result.reasons)[result.unsupported[0]]


@pytest.mark.parametrize("claim", ["Express delivery costs $19.99.", "Express delivery costs $9.90.",
                                   "Standard delivery takes 3-7 business days."])
def test_prices_and_ranges_must_match_exactly(claim: str) -> None:
    assert check_grounded(claim, KB).unsupported == (claim,)


def test_a_number_the_passage_spells_out_is_the_same_number() -> None:
    result = check_grounded("We refund the full price within 5 business days.", KB)
    assert result.ok, result.reasons
    assert not check_grounded("We refund the full price within 6 business days.", KB).ok


def test_flipping_a_negation_is_unsupported() -> None:
    result = check_grounded("Sale items can be returned.", KB)
    assert result.unsupported == ("Sale items can be returned.",)
    assert "negation" in dict(result.reasons)["Sale items can be returned."]
    assert check_grounded("Sale items can't be returned.", KB).ok


def test_a_draft_with_one_invented_sentence_fails_naming_only_that_sentence() -> None:
    draft = ("Unworn items can be returned within 14 days of delivery. "
             "We also send a free gift card with every refund.")
    result = check_grounded(draft, KB)
    assert not result.ok
    assert result.unsupported == ("We also send a free gift card with every refund.",)
    assert result.support == (
        ("Unworn items can be returned within 14 days of delivery.", "returns#0"),
        ("We also send a free gift card with every refund.", None),
    )


def test_an_invented_qualifier_tacked_onto_a_true_sentence_fails() -> None:
    claim = "We refund the full price within five business days and pay your return shipping label."
    assert check_grounded(claim, KB).unsupported == (claim,)


def test_support_must_come_from_one_passage_not_words_pooled_across_passages() -> None:
    claim = "Express delivery items cannot be returned."
    assert not check_grounded(claim, KB).ok


def test_a_link_that_is_not_in_the_passage_is_unsupported() -> None:
    claim = "Unworn items can be returned within 14 days at https://acme-returns.example.net."
    assert "link" in dict(check_grounded(claim, KB).reasons)[claim]


def test_a_bare_yes_is_not_exempt() -> None:
    assert check_grounded("Yes.", KB).unsupported == ("Yes.",)


def test_nothing_is_supported_without_passages() -> None:
    assert check_grounded("Sale items cannot be returned.", []).unsupported == ("Sale items cannot be returned.",)


def test_threshold_outside_zero_to_one_is_refused() -> None:
    with pytest.raises(ValueError, match="threshold"):
        check_grounded("Sale items cannot be returned.", KB, threshold=1.5)


def test_a_lower_threshold_accepts_a_looser_paraphrase() -> None:
    claim = "We quickly refund the full price to your debit card within five business days."
    assert not check_grounded(claim, KB).ok
    assert check_grounded(claim, KB, threshold=0.5).ok


# -- boilerplate ------------------------------------------------------------------

def test_allow_listed_boilerplate_is_exempt() -> None:
    draft = ("Hi Ada! I'm a virtual assistant. Sale items cannot be returned. "
             "Reply AGENT to talk to a person.\nSource: https://help.acme.test/returns")
    result = check_grounded(draft, KB)
    assert result.ok, result.reasons
    assert result.exempt == ("Hi Ada!", "I'm a virtual assistant.", "Reply AGENT to talk to a person.",
                             "Source: https://help.acme.test/returns")
    assert dict(result.support)["Sale items cannot be returned."] == "returns#0"


def test_a_source_line_naming_an_unknown_link_is_not_exempt() -> None:
    result = check_grounded("Sale items cannot be returned.\nSource: https://acme-returns.example.net", KB)
    assert result.unsupported == ("Source: https://acme-returns.example.net",)


def test_a_title_citation_is_exempt_when_it_names_a_passage() -> None:
    assert check_grounded("Express delivery costs $9.99.\nMore: Shipping", KB).ok
    # How a reply cites an article without a URL (a Markdown file), and an invented one.
    assert check_grounded('Express delivery costs $9.99.\nMore: "Shipping" in our help center', KB).ok
    assert not check_grounded('Express delivery costs $9.99.\nMore: "Free drones" in our help center', KB).ok


def test_a_title_citation_that_is_a_question_stays_one_line() -> None:
    """Help-center titles are questions: the cited title's question mark does not end
    the citation, or neither half names the article and every such answer is refused."""
    asked = [Passage(id="p1", article_id="a1", title="How do I delete entries from my feed?",
                     text="You cannot delete entries from the activity feed.", url="")]
    assert check_grounded('You cannot delete entries from the activity feed.\n'
                          'More: "How do I delete entries from my feed?" in our help center', asked).ok
    refused = check_grounded('You cannot delete entries from the activity feed.\n'
                             'More: "Can I delete my account?" in our help center', asked)
    assert refused.unsupported == ('More: "Can I delete my account?" in our help center',)


def test_a_greeting_does_not_smuggle_a_claim_through() -> None:
    claim = "Hi Ada, express delivery is free today."
    assert check_grounded(claim, KB).unsupported == (claim,)
    assert check_grounded("Hi Ada, express delivery costs $9.99.", KB).ok


def test_hindi_and_arabic_sentences_end_at_their_own_marks() -> None:
    """Hindi ends a sentence with "।" and Arabic asks with "؟": a Hindi article was one
    sentence a paragraph, quoted whole."""
    assert split_sentences("रिफंड 5 दिनों में आता है। चालान खाते में मिलता है। क्या आप मदद चाहते हैं?") == [
        "रिफंड 5 दिनों में आता है।", "चालान खाते में मिलता है।", "क्या आप मदद चाहते हैं?"]
    assert split_sentences("هل تريد المساعدة؟ نحن هنا.") == ["هل تريد المساعدة؟", "نحن هنا."]


def test_myanmar_and_khmer_sentences_end_at_their_full_stops() -> None:
    """Their scripts are written without spaces between words and end a sentence with
    "။" and "។", with or without a space after it."""
    assert split_sentences("ငွေပြန်အမ်းခြင်း ၅ ရက်အတွင်း ရောက်ပါသည်။ ငွေတောင်းခံလွှာ အကောင့်တွင် ရှိပါသည်။") == [
        "ငွေပြန်အမ်းခြင်း ၅ ရက်အတွင်း ရောက်ပါသည်။", "ငွေတောင်းခံလွှာ အကောင့်တွင် ရှိပါသည်။"]
    assert split_sentences("ការសងប្រាក់វិញមកដល់ក្នុង ៥ ថ្ងៃ។វិក្កយបត្រនៅក្នុងគណនីរបស់អ្នក។") == [
        "ការសងប្រាក់វិញមកដល់ក្នុង ៥ ថ្ងៃ។", "វិក្កយបត្រនៅក្នុងគណនីរបស់អ្នក។"]
