"""A help center in another language than English, end to end: imported from a file
that names no locale (`switchboard kb import`), its articles are read in the language
they are written in, and its customers' short first questions, which the detector
cannot tell between Romance languages, are answered in the help center's language over
signed SMS, as `switchboard eval` says they will be."""
from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner
from flask import Flask
from sqlalchemy import select

from switchboard.cli import main
from switchboard.core.store.models import KbArticle, Message
from switchboard.intake.db import get_db

from ..signing import VendorClient
from .test_language_over_twilio import MESSAGES, inbound, sent

#: A small Portuguese help center, exported without locales (as a docs tool or CMS would).
PORTUGUESE = [
    {"id": "pagamento", "title": "Formas de pagamento",
     "body": "Aceitamos cartões Visa, Mastercard e American Express, PayPal e MB Way. "
             "O valor é cobrado quando a encomenda é enviada."},
    {"id": "rastreio", "title": "Onde está a minha encomenda?",
     "body": "Assim que a encomenda sai do armazém enviamos um e-mail com o número de rastreio. "
             "Pode seguir a encomenda no site da transportadora com esse número."},
    {"id": "devolucoes", "title": "Devoluções e reembolsos",
     "body": "Pode devolver qualquer artigo no prazo de 30 dias após a entrega. O reembolso é feito no mesmo "
             "meio de pagamento em 5 dias úteis depois de recebermos o artigo."},
    {"id": "cancelar", "title": "Cancelar uma encomenda",
     "body": "Pode cancelar a encomenda sem custos enquanto ela ainda não foi enviada, na sua conta em "
             "Minhas encomendas. Depois do envio, faça uma devolução."},
    {"id": "portes", "title": "Portes de envio",
     "body": "O envio normal custa 3,90 euros e é gratuito em encomendas acima de 50 euros. O envio expresso "
             "custa 7,90 euros e chega no dia útil seguinte."},
]
#: Too close to call alone: "Posso pagar com PayPal?" is Italian 0.40, Portuguese 0.26 to
#: the detector; "Quero cancelar" Spanish 0.47, Portuguese 0.30.
UNCLEAR = ["Posso pagar com PayPal?", "Quero cancelar"]
PORTUGUESE_DISCLOSURE = "Você está falando com um assistente virtual. Responda AGENT"


def imported(tmp_path: Path, env: dict[str, str]) -> str:
    """The Portuguese help center imported through the CLI; its output."""
    export = tmp_path / "help-center.json"
    export.write_text(json.dumps({"articles": PORTUGUESE}, ensure_ascii=False))
    result = CliRunner().invoke(main, ["kb", "import", str(export)], env=env)
    assert result.exit_code == 0, result.output
    return result.output


def test_a_help_center_without_locales_answers_its_customers_in_its_language(
        app: Flask, vendor: VendorClient, env: dict[str, str], tmp_path: Path) -> None:
    output = imported(tmp_path, env)
    assert "Articles by language: pt 5" in output
    with get_db(app).session() as session:
        assert set(session.scalars(select(KbArticle.locale))) == {"pt"}
    for n, question in enumerate(UNCLEAR):  # each a new customer, from a US number
        assert vendor.twilio(MESSAGES, inbound(question, sender=f"+1415555020{n}")).status_code == 200
    replies = sent(app)
    assert len(replies) == 2
    for reply in replies:
        assert reply.startswith(PORTUGUESE_DISCLOSURE), reply
        assert "This article is in" not in reply and "artigo está em" not in reply  # not read as across languages
    assert "Formas de pagamento" in replies[0] or "PayPal e MB Way" in replies[0]
    assert "Cancelar uma encomenda" in replies[1] or "Pode cancelar a encomenda" in replies[1]
    with get_db(app).session() as session:
        languages = [m.meta.get("language") for m in session.scalars(
            select(Message).where(Message.author == "customer").order_by(Message.id))]
    assert languages == ["pt", "pt"]


def test_eval_reads_the_questions_in_the_help_centers_language_as_the_live_bot_does(
        app: Flask, vendor: VendorClient, env: dict[str, str], tmp_path: Path) -> None:
    imported(tmp_path, env)
    questions = tmp_path / "questions.csv"
    questions.write_text("question,expected\n" + "".join(
        f"{q},{a}\n" for q, a in zip(UNCLEAR, ["pagamento", "cancelar"], strict=True)))
    result = CliRunner().invoke(main, ["eval", "run", str(questions), "--json"], env=env)
    assert result.exit_code == 0, result.output
    verdicts = json.loads(result.output[result.output.index("{"):])["questions"]
    for n, question in enumerate(UNCLEAR):
        vendor.twilio(MESSAGES, inbound(question, sender=f"+1415555030{n}"))
    with get_db(app).session() as session:
        live = [m.meta.get("action") for m in session.scalars(
            select(Message).where(Message.author == "bot").order_by(Message.id))]
    assert [v["action"] for v in verdicts] == live


def test_an_english_help_center_answers_the_same_question_in_english(shop: Flask, vendor: VendorClient) -> None:
    """The help center's language is only ever one of its own: to the English sample shop,
    an unclear Portuguese question falls back on English as it always did."""
    assert vendor.twilio(MESSAGES, inbound(UNCLEAR[0], sender="+14155550400")).status_code == 200
    [reply] = sent(shop)
    assert reply.startswith("You're chatting with a virtual assistant"), reply


#: A Romanian help center, exported without locales: Romanian is not among the languages
#: every message is told in; the articles' language makes it one for this account.
ROMANIAN = [
    {"id": "livrare", "title": "Cum modific adresa de livrare?",
     "body": "Puteți modifica adresa de livrare din contul dumneavoastră, la Comenzile mele, cât timp comanda nu a "
             "fost expediată. După expediere, contactați curierul cu numărul de urmărire."},
    {"id": "plata", "title": "Metode de plată",
     "body": "Acceptăm carduri Visa și Mastercard, PayPal și transfer bancar. Suma este debitată în momentul în care "
             "comanda este expediată din depozit."},
    {"id": "retur", "title": "Returnări și rambursări",
     "body": "Puteți returna orice produs în termen de 30 de zile de la livrare. Rambursarea se face prin aceeași "
             "metodă de plată, în cinci zile lucrătoare după ce primim produsul."},
]


def test_a_help_center_in_a_language_beyond_the_usual_ones_is_read_in_it(
        app: Flask, vendor: VendorClient, env: dict[str, str], tmp_path: Path) -> None:
    export = tmp_path / "ro.json"
    export.write_text(json.dumps({"articles": ROMANIAN}, ensure_ascii=False))
    result = CliRunner().invoke(main, ["kb", "import", str(export)], env=env)
    assert result.exit_code == 0, result.output
    assert "Articles by language: ro 3" in result.output
    assert vendor.twilio(MESSAGES, inbound("Cum modific adresa de livrare pentru comanda mea?",
                                           sender="+14155550500")).status_code == 200
    [reply] = sent(app)
    assert "Puteți modifica adresa de livrare" in reply, reply
    assert "This article is in" not in reply  # its own language's article, not one across languages
    with get_db(app).session() as session:
        [customer_message] = session.scalars(select(Message).where(Message.author == "customer"))
        assert customer_message.meta["language"] == "ro"
