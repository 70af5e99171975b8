"""The menu the bot sends when no single article clearly fits: which articles it offers
(the best passage of each of the top articles, from the index's menu floor up) and how
it reads on SMS and WhatsApp. The bot's decisions, the other articles offered after
"that didn't help" (:mod:`.other_articles`) and the agents' suggestions
(``core/helpdesk/assist.py``) ask these rules, so what each offers cannot drift apart.
"""
from __future__ import annotations

from collections.abc import Sequence

from switchboard.core.knowledge.records import Hit
from switchboard.core.texts.i18n import ENGLISH, N_, Texts

#: Articles offered when no single one clearly fits: an SMS menu of three lines reads at
#: a glance; more is a list nobody scrolls.
MAX_CHOICES = 3
#: A hit scoring below this is not worth offering even as a choice (off-topic questions
#: still match a word or two of some article). Chosen on StackFAQ's tuning half and
#: CLINC150's out-of-scope val questions: it keeps 92 % of the menus that hold the right
#: article and drops a third of those offered for off-topic questions.
MIN_CHOICE_SCORE = 0.1
#: Across languages a question's cosine to its article sits lower than within one (a
#: Russian question to its German paragraph), so an index's menu floor, fitted on
#: same-language pseudo-questions, held back most useful menus and the customer was
#: handed over instead: the floor is scaled by this share there. Chosen on XQuAD's
#: Russian questions (first halves) against the German paragraphs to keep 90 % of the
#: menus holding the right article, as MENU_KEPT does within a language; `bench/answers.py`
#: reports the second halves, and Chinese, on which nothing was chosen. The answer
#: threshold is not scaled: answers at 0.175 were right 99 % of the time on those
#: questions, but vague ones to the sample help center ("algo con mi cuenta", "Tengo un
#: problema con mi pedido") scored above it, and a vague question gets a menu.
ACROSS_LANGUAGES_MENU_SHARE = 0.35
#: The same (not fitted apart) for the other articles a question could mean when its answer was just sent as is.
SAME_ANSWER_MENU_SHARE = ACROSS_LANGUAGES_MENU_SHARE

#: A menu's lines (the web chat shows "None of these" as a button under its articles).
CHOICES_INTRO = N_("choices_intro", "I found a few articles that may help:")
CHOICE_INTRO = N_("choice_intro", "I found an article that may help:")
CHOICES_FOOTER = N_("choices_footer", "Reply with the number, or AGENT to talk to a person.")
NONE_OF_THESE = N_("none_of_these", "None of these")


def menu_floor(hits: Sequence[Hit]) -> float:
    """The score from which an article is worth offering: the index's own floor (fitted on
    its articles' pseudo-questions, ``core/knowledge/calibration.py``), never below
    :data:`MIN_CHOICE_SCORE`."""
    return max(MIN_CHOICE_SCORE, hits[0].signals.get("menu_floor", 0.0)) if hits else MIN_CHOICE_SCORE


def choice_hits(hits: Sequence[Hit], *, floor_share: float = 1.0) -> list[Hit]:
    """The best hit of each of the top articles, in rank order: what a menu offers
    (nothing when the top hit is below the menu floor times ``floor_share``)."""
    offered: list[Hit] = []
    if not hits or hits[0].score < floor_share * menu_floor(hits):
        return offered
    for hit in hits:
        if any(o.passage.article_id == hit.passage.article_id for o in offered):
            continue
        offered.append(hit)
        if len(offered) == MAX_CHOICES:
            break
    return offered


def choices_menu(offered: Sequence[Hit], texts: Texts = ENGLISH) -> str:
    """``1. Title`` per line: SMS and WhatsApp have no buttons a customer can rely on,
    and a number is one keystroke."""
    lines = [texts(CHOICE_INTRO if len(offered) == 1 else CHOICES_INTRO)]
    lines += [f"{n}. {hit.passage.title}" for n, hit in enumerate(offered, 1)]
    lines.append(texts(CHOICES_FOOTER))
    return "\n".join(lines)
