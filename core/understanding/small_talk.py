"""The request inside a message that opens with a greeting or closes with thanks.

Customers write "Hi, where is my parcel?", "Good morning! My card was declined" and
"how do I return an item? thanks, Anna". An intent model that reads the whole message
weighs the greeting against the question and often calls it small talk, and the
customer is asked "How can I help you today?" instead of being answered: on StackFAQ's
held-out questions, "Hi, " in front cut the questions that reached the right article
from 87 % to 54 %, "Good morning, " to 8 %, " thanks" behind to 10 %.

:func:`request_part` takes off what opens and closes a message politely (greetings,
"hope you're well", "Dear support team,", a caller's "um", thanks, sign-offs with a
name) in every language Switchboard detects, and leaves the message whole when
nothing else is left: "hi", "thanks so much!" and "Good morning, how are you?" are
small talk and stay so.
"""
from __future__ import annotations

import re

#: The intents that are only small talk: the bot greets or closes instead of searching.
SMALL_TALK_INTENTS = frozenset({"greeting", "thanks"})

# A greeting that may be followed by a plain space ("hi where is my parcel").
_GREETING = r"""(?:
    hi+|hello+|hey+|hiya|heya|howdy|greetings
  | good\s+(?:morning|afternoon|evening|day)
  | hola|buen[oa]s\s+(?:d[ií]as|tardes|noches)
  | bonjour|bonsoir|salut|coucou
  | hallo|guten\s+(?:morgen|tag|abend)|moin|servus
  | ol[aá]|oi|bom\s+dia|boa\s+(?:tarde|noite)
  | ciao|salve|buongiorno|buonasera
  | hoi|goedemorgen|goedemiddag|goedenavond
  | cze[sś][cć]|witam|dzie[nń]\s+dobry|hej
  | merhaba|selam|g[uü]nayd[ıi]n|iyi\s+g[uü]nler
  | مرحب[اًا]+|أهلا|اهلا|السلام\s+عليكم
  | здравствуй(?:те)?|привет(?:ствую)?|добр(?:ый|ого)\s+(?:день|вечер|дня)|доброе\s+утро|вітаю|привіт
  | добр(?:ий|ого)\s+(?:день|вечір|дня)|доброго\s+ранку
  | 你好|您好|こんにちは|こんばんは|おはよう(?:ございます)?|안녕하세요|안녕
  | γει[άα]\s+σ(?:ας|ου)|καλημ[έε]ρα|καλησπ[έε]ρα|שלום|היי|สวัสดี(?:ครับ|ค่ะ|คะ)?|नमस्ते|नमस्कार
)"""
# Words that are greetings only when punctuation follows ("Morning! ..." but not
# "morning delivery slots?").
_GREETING_WORD = r"(?:morning|afternoon|evening|buenas|yo)"
# What a caller says before the question (speech turns arrive transcribed as spoken).
_FILLER = r"(?:u+h*m+|u+h+|e+r+m*|h+m+|a+h+|e+h+|oh|yeah)"
# An acknowledgement before what follows ("ok thanks", "vale, gracias", "ok so where is
# it?"): "ok thanks" was read as "ok", out of scope, and the customer was told nothing
# was found. Said before a plain space only where the word is not also an adjective.
_ACKNOWLEDGEMENT = (r"(?:ok(?:ay|ey|ie)?|alright|all\s+right|got\s+it|understood|vale|de\s+acuerdo|entendido"
                    r"|d['’]accord|entendu|alles\s+klar|verstanden|va\s+bene|capito|entendi|t[aá]\s+bom)")
_ACKNOWLEDGEMENT_WORD = (r"(?:great|perfect|cool|fine|sure|perfecto|genial|parfait|super|perfekt|prima|perfetto"
                         r"|[oó]timo|perfeito)")
_ADDRESSEE = r"(?:\s+(?:there|team|all|everyone|everybody|guys|folks|again|support(?:\s+team)?))?"
_DEAR = (r"(?:dear|estimad[oa]s?|cher|ch[eè]re|liebe[rs]?|sehr\s+geehrte[rs]?|caro|cara|gentile|beste|geachte"
         r"|szanown[iya]|sayın)\s+[^,\n]{1,40}")
_PLEASANTRY = r"""(?:
    (?:i\s+)?hope\s+(?:you(?:'re|’re|\s+are)|all\s+is|this\s+(?:message\s+)?finds\s+you)[^.!?\n]*
  | how\s+are\s+you(?:\s+doing)?(?:\s+today)?
  | how'?s\s+it\s+going
  | (?:is\s+)?any(?:one|body)\s+(?:there|here|around)
)"""
# "I have a question", "I need help", "can you help me?", "help me please": the customer
# has not asked yet ("help me please" was a request for a person to the intent model).
# Searched, it got a menu of three articles (a failed answer), and the question that
# followed it went to a person.
_PREAMBLE = r"""(?:
    (?:i\s+)?(?:have|got)\s+(?:a\s+|an\s+)?(?:quick\s+|small\s+|short\s+)?(?:question|query|problem|issue|enquiry|inquiry)
  | (?:a\s+)?(?:quick|small|short)\s+(?:question|one)
  | (?:i\s+)?need\s+(?:some\s+|your\s+)?(?:help|assistance|support)(?:\s+with\s+something)?
  | (?:can|could)\s+(?:you|u|someone|anyone|somebody|anybody)\s+help(?:\s+me)?
  | (?:please\s+|pls\s+|plz\s+)?help(?:\s+me)?(?:\s+out)?(?:\s+plz)?  # a trailing please/pls: _OPENING's
  | tengo\s+una\s+(?:pregunta|duda|consulta)|necesito\s+ayuda|(?:me\s+)?(?:puede[ns]?|podr[ií]as?)\s+ayudar(?:me)?
  | j['’]ai\s+une\s+question|(?:j['’]ai\s+)?besoin\s+d['’]aide|(?:pouvez|peux)[-\s](?:vous|tu)\s+m['’]aider
  | ich\s+habe\s+eine\s+frage|ich\s+brauche\s+hilfe|k[öo]nnen\s+sie\s+mir\s+helfen|kannst\s+du\s+mir\s+helfen
  | tenho\s+uma\s+(?:pergunta|d[úu]vida)|preciso\s+de\s+ajuda|(?:pode|podem)\s+(?:me\s+)?ajudar(?:-me)?
  | ho\s+una\s+domanda|ho\s+bisogno\s+di\s+aiuto|(?:potete|puoi|pu[òo])\s+aiutarmi
)"""
# What thanks may be for and still be only politeness ("thank you for your help"), not
# content ("thanks for the refund"): help, time, replies and the like, in each language.
_FOR_THE_HELP = r"""(?:
    \s+(?:in\s+advance\s+)?for\s+(?:your|the|any|all\s+(?:your|the))?\s*(?:kind\s+|quick\s+|prompt\s+|great\s+)?
       (?:help|time|assistance|support|reply|response|answer|patience|attention|understanding)
  | \s+(?:por|pela)\s+(?:tu\s+|su\s+|sua\s+|la\s+)?(?:ayuda|ajuda|atenci[oó]n|aten[cç][aã]o)
  | \s+pour\s+(?:votre|ton|ta)\s+(?:aide|r[eé]ponse)
  | \s+f[uü]r\s+(?:ihre|deine|die)\s+(?:hilfe|antwort|m[uü]he)
  | \s+per\s+(?:il\s+tuo\s+|il\s+suo\s+|l['’])\s*aiuto
  | \s+voor\s+(?:je|uw|de)\s+hulp
)"""
_IN_ADVANCE = (r"\s+(?:in\s+advance|de\s+antemano|desde\s+j[aá]|im\s+voraus|d['’]avance|par\s+avance"
               r"|in\s+anticipo|alvast)")
_THANKS = rf"""(?:
    (?:(?:many\s+)?thanks?(?:\s+you)?(?:\s+(?:so|very)\s+much|\s+a\s+lot)?
     | thank\s+u|thanx|(?:muchas\s+)?gracias|merci(?:\s+beaucoup)?|danke(?:\s+sch[oö]n)?|vielen\s+dank
     | obrigad[oa]|grazie(?:\s+mille)?|bedankt|dank\s+je(?:\s+wel)?|thx|ty)(?:{_IN_ADVANCE})?(?:{_FOR_THE_HELP})?
  | tia|cheers|much\s+appreciated|(?:i\s+)?(?:really\s+|truly\s+)?appreciate\s+(?:it|this|that)
  | (?:i(?:'d|’d|\s+would)\s+|would\s+)?(?:really\s+|greatly\s+)?appreciate\s+(?:any|your|the|some|a\s+quick)\s+
       (?:help|assistance|support|reply|response|answer|advice)
  | any\s+(?:help|advice|assistance)\s+(?:would\s+be|is)\s+(?:much\s+|greatly\s+|really\s+)?appreciated
  | have\s+a\s+(?:nice|good|great|lovely)\s+(?:day|one|evening|weekend)
  | (?:good)?bye(?:\s+(?:bye|now|for\s+now))?|see\s+(?:you|ya)\s+(?:soon|later|then)|adi[oó]s|hasta\s+(?:luego|pronto)
  | au\s+revoir|[àa]\s+bient[oô]t|tsch[uü]ss|auf\s+wiedersehen|tchau|at[eé]\s+(?:logo|breve)
  | arrivederci|a\s+presto|doei|tot\s+ziens|do\s+widzenia|ho[sş][cç]a\s+kal|g[oö]r[uü][sş][uü]r[uü]z|مع\s+السلامة
  | dzi[eę]kuj[eę]|te[sş]ekk[uü]rler|sa[gğ]ol|شكرا(?:\s+جزيلا)?
  | спасибо(?:\s+большое)?|благодарю|до\s+свидания|дякую|до\s+побачення
  | 谢谢(?:你|您)?|多谢|感谢|再见|ありがとう(?:ございます|ございました)?|さようなら
  | 감사합니다|고맙습니다|고마워요?|안녕히\s+(?:계세요|가세요)
  | ευχαριστ[ώω](?:\s+πολ[ύυ])?|αντ[ίι]ο|תודה(?:\s+רבה)?|להתראות|ขอบคุณ(?:ครับ|ค่ะ|มาก)?|ลาก่อน
  | धन्यवाद|शुक्रिया
)"""
_SIGN_OFF = r"""(?:
    (?:kind|best|warm|many)\s+regards|(?:thanks\s*(?:&|and)\s*)?regards|best\s+wishes|best(?=\s*[,\n])
  | sincerely|yours\s+(?:sincerely|truly|faithfully)
  | saludos(?:\s+cordiales)?|un\s+saludo|cordialement|bien\s+[àa]\s+vous
  | (?:mit\s+)?freundlichen\s+gr[üu](?:ß|ss)en|freundliche\s+gr[üu](?:ß|ss)e|(?:viele\s+|liebe\s+)?gr[üu](?:ß|ss)e
  | atenciosamente|cumprimentos|abra[çc]os?|cordiali\s+saluti|distinti\s+saluti|saluti
  | met\s+vriendelijke\s+groet(?:en)?|groeten|pozdrawiam|z\s+powa[żz]aniem|sayg[ıi]lar[ıi]mla
)"""
_PUNCTUATION = r"[,!?.:;\-–—…،؟，。！？、：；]+"
# A name after a sign-off or thanks: one to three words, each capitalised.
_NAME = r"(?:[-–—~]\s*)?[A-ZÀ-ÖØ-ÞĄ-ŽΑ-ΩА-ЯЁІЇЄҐ][\w.'’-]*(?:\s+[A-ZÀ-ÖØ-ÞĄ-ŽΑ-ΩА-ЯЁІЇЄҐ][\w.'’-]*){0,2}"

_OPENING = re.compile(  # matched at a position (re.match anchors it there)
    rf"""\s*(?:
        (?:{_GREETING}{_ADDRESSEE}(?!\w)(?:\s*{_PUNCTUATION}\s*|\s+|$))
      | (?:{_GREETING_WORD}{_ADDRESSEE}\s*{_PUNCTUATION}\s*)
      | (?:{_FILLER}\b(?:\s*{_PUNCTUATION}\s*|\s+))
      | (?:{_ACKNOWLEDGEMENT}(?!\w)(?:\s*{_PUNCTUATION}\s*|\s+|$))
      | (?:{_ACKNOWLEDGEMENT_WORD}\s*{_PUNCTUATION}\s*)
      | (?:{_DEAR}\s*[,:\n]\s*)
      | (?:{_PLEASANTRY}(?:\s*{_PUNCTUATION}\s*|$))
      | (?:{_PREAMBLE}(?:\s+please|\s+pls)?(?:\s*{_PUNCTUATION}\s*|\s*$))
      | (?:{_THANKS}\s*{_PUNCTUATION}\s*)
    )""",
    re.IGNORECASE | re.VERBOSE,
)
# What may follow the last word: end marks, a smiley, an emoji.
_TRAILER = r"(?:\s*[!.…]|\s*[:;]-?[)D(P]|\s*[\u2600-\u27bf\U0001f300-\U0001faff\ufe0f])*"
_CLOSING = re.compile(
    rf"""(?:^|(?<=[\s.,!?;:…،؟¡¿，。！？、]))(?:
        (?:{_THANKS}(?:\s*{_PUNCTUATION})?(?:\s*,?\s*(?-i:{_NAME}))?)
      | (?:(?:^|(?<=[.,!?;:\n…،؟，。！？]))\s*{_SIGN_OFF}(?:\s*{_PUNCTUATION})?(?:\s*,?\s*(?-i:{_NAME}))?)
    ){_TRAILER}\s*$""",
    re.IGNORECASE | re.VERBOSE,
)


#: A customer saying the answer worked: a close, not a question ("That solved it.",
#: "Problem solved!", "Eso fue todo", "thanks, that answers it": it got a menu of three
#: articles), in the catalogs' languages.
_RESOLVED = re.compile(
    r"""\s*(?:(?:that|this|it)(?:'s|’s|\s+(?:has|have))?\s+(?:solved|fixed|sorted|answered|worked|helped|did\s+it
                                                         |solves|fixes|answers|works|helps|does\s+it)
             (?:\s+(?:it|that|this|the\s+(?:problem|issue)|my\s+question))?(?:\s+(?:for\s+me|perfectly|thanks?))?
       | (?:problem|issue|all|everything)\s+(?:is\s+)?(?:solved|sorted|fixed|good|clear)(?:\s+now)?
       | (?:got\s+it|all\s+good|perfect|great|awesome|that'?s\s+(?:all|it|everything))
       | (?:eso|esto)\s+(?:es|fue)\s+todo|(?:ya\s+)?(?:est[aá]\s+)?(?:resuelto|solucionado)|funcion[oó]
       | (?:c'est|c’est)\s+(?:tout|r[eé]gl[eé]|bon)|(?:probl[eè]me\s+)?r[eé]solu
       | (?:das\s+)?(?:hat\s+)?(?:geholfen|funktioniert)|(?:problem\s+)?gel[oö]st|erledigt
       | (?:resolvido|funcionou|risolto|ha\s+funzionato)
    )\s*[!.…]*\s*$""",
    re.IGNORECASE | re.VERBOSE,
)


def resolved(sentence: str) -> bool:
    """Whether ``sentence`` only says that the answer worked (a close, like thanks)."""
    return bool(_RESOLVED.fullmatch(sentence))


def request_part(text: str) -> str:
    """``text`` without its opening greeting or thanks and its closing thanks or sign-off,
    and without lines that are only small talk (an email's "Hi team," after the ticket's
    subject line); ``text`` itself when that would leave no words (the message is small
    talk)."""
    rest = _trimmed(text)
    if "\n" in rest:
        rest = _trimmed("\n".join(line for line in rest.split("\n") if not line.strip() or _trimmed(line)))
    return rest if any(character.isalpha() for character in rest) else text


#: At most this many greetings and this many closings come off one text: a real
#: message has one to three, and the bound keeps a hostile one ("thanks " 14,000 times)
#: linear: each closing is looked for in the text's last :data:`_CLOSING_WINDOW` characters.
_MAX_PIECES = 8
_CLOSING_WINDOW = 160


def _trimmed(text: str) -> str:
    """``text`` without its opening and closing small talk ("" when that is all of it)."""
    start = 0
    for _ in range(_MAX_PIECES):
        opening = _OPENING.match(text, start)
        if opening is None or opening.end() == start:
            break
        start = opening.end()
    end = len(text)
    for _ in range(_MAX_PIECES):
        closing = _CLOSING.search(text, max(start, end - _CLOSING_WINDOW), end)
        if closing is None or closing.start() >= end:
            break
        end = closing.start()
        while end > start and text[end - 1] in " \t\n,;:-–—،¡¿，、：；":
            end -= 1
    return text[start:end].strip()


_CLOSES = re.compile(rf"(?<!\w)(?:{_THANKS}|{_SIGN_OFF})(?!\w)", re.IGNORECASE | re.VERBOSE)
#: A thumbs-up, a smile, a heart, a tick: what customers send for "ok, thanks".
_GLAD = (r"(?:[:;=]-?[)D\]]|\^\^|<3|[\U0001f44d\U0001f44c\U0001f44f\U0001f64f\U0001f64c\U0001f91d\u263a\u2764"
         r"\u2705\u2714\U0001f4af\U0001f389\U0001f600-\U0001f60d\U0001f642\U0001f917\U0001f970\U0001f973"
         r"\U0001f495-\U0001f49f][\ufe0f\U0001f3fb-\U0001f3ff]*)")
#: A message that only acknowledges ("ok", "cool 👍", "got it!", "vale", "🙏"): a close.
_ACKNOWLEDGED = re.compile(
    rf"\s*(?:(?:{_ACKNOWLEDGEMENT}|{_ACKNOWLEDGEMENT_WORD}|{_THANKS}|{_GLAD})(?:\s*[,!.…]*\s*))+",
    re.IGNORECASE | re.VERBOSE,
)


def small_talk_only(text: str) -> str | None:
    """"thanks" when ``text`` is nothing but thanks, a goodbye or a sign-off, "greeting"
    when it is nothing but a greeting or pleasantry, in any language :func:`request_part`
    knows; None when it holds anything else.

    The intent model learned small talk from English examples and carries it over to
    Latin-script languages through the encoder, but read "Спасибо!", "谢谢！" or
    "안녕하세요" as out of scope: the bot searched the help center for them. A message
    that only acknowledges ("ok", "cool", "👍", ":)") is thanks: "👍" after an answer was
    told "I couldn't find that in our help center", and counted as a failed answer."""
    if _ACKNOWLEDGED.fullmatch(text):
        return "thanks"
    if not any(character.isalpha() for character in text) or any(character.isalpha() for character in _trimmed(text)):
        return None
    return "thanks" if _CLOSES.search(text) else "greeting"


#: Greetings, thanks and goodbyes that are one catalog language's own. A message of
#: nothing else ("hola", "ciao!", "danke") is too short for the language detector, which
#: left it to English: a Spanish customer's "hola" was greeted "Hi! How can I help you
#: today?". Words shared by several of these languages ("salve") or with English ("oi") are in none.
_OWN_SMALL_TALK = {
    "es": r"hola|buen[oa]s(?:\s+(?:d[ií]as|tardes|noches))?|(?:muchas\s+)?gracias|adi[oó]s|hasta\s+luego",
    "fr": r"bonjour|bonsoir|salut|coucou|merci(?:\s+beaucoup)?|au\s+revoir",
    "de": (r"hallo|guten\s+(?:morgen|tag|abend)|moin|servus|danke(?:\s+sch[öo]n)?|vielen\s+dank"
           r"|tsch[üu]ss|auf\s+wiedersehen"),
    "pt": r"ol[aá]|bom\s+dia|boa\s+(?:tarde|noite)|(?:muito\s+)?obrigad[oa]|tchau",
    "it": r"ciao|buongiorno|buonasera|grazie(?:\s+mille)?|arrivederci",
}
_OWN_SMALL_TALK_ONLY = {
    language: re.compile(rf"\W*(?:(?:{words})(?:\W+|$))+", re.IGNORECASE)  # "¡Hola! 👋", "ciao :)"
    for language, words in _OWN_SMALL_TALK.items()
}


def small_talk_language(text: str) -> str | None:
    """The language whose own greetings or thanks ``text`` is made of ("hola" → "es",
    "Danke schön!" → "de"), or None: for a first message the detector cannot tell."""
    found = [language for language, pattern in _OWN_SMALL_TALK_ONLY.items() if pattern.fullmatch(text.strip())]
    return found[0] if len(found) == 1 else None


_SENTENCE_END = re.compile(r"(?<=[.!?…。؟！？])\s+|(?<=[。！？])(?=\S)|\s*\n+\s*")


def sentences(text: str) -> list[str]:
    """``text`` cut after each sentence's end mark and at line breaks (empty pieces dropped)."""
    return [piece for piece in _SENTENCE_END.split(text.strip()) if piece]


# -- "Are you a bot?" ---------------------------------------------------------------------
# A question about who answers, not a request for a person: answered with the disclosure
# (and the way to a person) in the customer's language, as Fin and Zendesk's bots answer
# it. Only the whole message: "are you a bot? I want a human" still asks for one.
_MACHINE = (r"(?:chat\s*bot|bot|robot|robo|rob[oô]|roboter|machine|m[aá]quina|maschine|macchina|ai|a\.i\.|ia|ki|"
            r"computer|ordinateur|computadora|ordenador|automated\s+(?:reply|system|response)|"
            r"virtual\s+assistant|assistant\s+virtuel|asistente\s+virtual|assistente\s+virtual(?:e)?|"
            r"virtueller\s+assistent)")
_PERSON = (r"(?:(?:real|actual|live|true)\s+)?(?:person|human(?:\s+being)?|humano|humana|humain|humaine|personne|"
           r"persona|pessoa|mensch(?:en)?|umano|umana)(?:\s+(?:real|de\s+verdad|r[ée]elle?|vera?|de\s+verdade))?")
_SOMEONE = (rf"(?:(?:a|an|un|une|una|um|uma|ein|eine|einem|einer|einen|the)\s+)?"
            rf"(?:(?:real|vrai|vraie|echte[nmr]?|echt)\s+)?(?:{_MACHINE}|{_PERSON})")
_EITHER = rf"{_SOMEONE}(?:\s*,?\s+(?:or|o|ou|oder)\s+(?:(?:to|with|con|com|avec|[àa]|mit)\s+)?{_SOMEONE})?"
_ASKS_WHO = re.compile(rf"""[\s¿¡]*(?:
    (?:so\s+|wait\s+|hey\s+)?(?:are|r)\s+(?:you|u)\s+{_EITHER}
  | am\s+i\s+(?:talking|chatting|speaking|writing)\s+(?:to|with)\s+{_EITHER}
  | is\s+(?:this|that|it)\s+{_EITHER}
  | (?:eres|es\s+usted|sos)\s+{_EITHER}
  | (?:estoy\s+hablando|hablo)\s+con\s+{_EITHER}
  | (?:es-tu|[êe]tes-vous|t['’]es|tu\s+es|vous\s+[êe]tes)\s+{_EITHER}
  | (?:est-ce\s+que\s+)?je\s+parle\s+(?:[àa]|avec)\s+{_EITHER}
  | (?:bist\s+du|sind\s+sie)\s+{_EITHER}
  | (?:rede|spreche|schreibe|chatte)\s+ich\s+mit\s+{_EITHER}
  | ist\s+das\s+{_EITHER}
  | (?:voc[eê]\s+[eé]|tu\s+[eé]s)\s+{_EITHER}
  | (?:estou\s+falando|falo)\s+com\s+{_EITHER}
  | (?:sei|lei\s+[eè])\s+{_EITHER}
  | (?:sto\s+parlando|parlo)\s+con\s+{_EITHER}
  # "Who am I talking to?": who answers, asked without naming a bot or a person
  | who\s+(?:am\s+i|i['’]?m)\s+(?:talking|chatting|speaking|writing)\s+(?:to|with)
  | who\s+are\s+you|who(?:\s+is|['’]?s)\s+(?:this|that)
  | con\s+qui[eé]n\s+(?:hablo|estoy\s+hablando)|qui[eé]n\s+(?:eres|es\s+usted|sos)
  | [àa]\s+qui\s+(?:je\s+parle|est-ce\s+que\s+je\s+parle|ai-je\s+affaire)|qui\s+(?:[êe]tes-vous|es-tu)
  | mit\s+wem\s+(?:spreche|rede|schreibe|chatte)\s+ich|wer\s+(?:bist\s+du|sind\s+sie)
  | com\s+quem\s+(?:estou\s+falando|falo)|quem\s+(?:[eé]\s+voc[eê]|[eé]s\s+tu)
  | con\s+chi\s+(?:sto\s+parlando|parlo)|chi\s+(?:sei|[eè]\s+lei)
)[\s?!.…]*""", re.IGNORECASE | re.VERBOSE)


def asks_who_answers(text: str) -> bool:
    """Whether the whole message asks if a person or a machine is answering ("are you a
    bot?", "¿eres un robot?", "bist du ein Mensch?"), in the catalogs' languages."""
    return bool(_ASKS_WHO.fullmatch(request_part(text)))
