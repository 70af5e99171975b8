"""Outreach footers in each segment's language (a campaign segmented by locale)."""
from __future__ import annotations

from switchboard.core.outreach.drafts import segment_language, with_compliance
from switchboard.core.texts.i18n import Texts


def test_the_footer_is_in_the_segment_language_and_not_repeated() -> None:
    assert with_compliance("Hi {first_name}, we are late.", "Acme") == (
        "Hi {first_name}, we are late. Automated message from Acme. Reply STOP to opt out.")
    spanish = with_compliance("Hola {first_name}, vamos con retraso.", "Acme", Texts("es"))
    assert spanish == ("Hola {first_name}, vamos con retraso. Mensaje automático de Acme. "
                       "Responda STOP para darse de baja.")
    assert with_compliance(spanish, "Acme", Texts("es")) == spanish
    assert segment_language("de") == "de" and segment_language("gold") == "en" and segment_language("nl") == "en"
