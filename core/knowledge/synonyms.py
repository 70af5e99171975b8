"""Support vocabulary that customers and help articles use for the same thing.

Deliberately small and generic to e-commerce/customer-service: each group is words a
customer may use where the article uses another ("parcel" / "package", "broken" /
"damaged"). A group also ties inflections the stemmer leaves apart ("delivered" stems to
"deliv", "delivery" to "deliveri"). Expansions are weighted below the word the customer
actually typed, so an exact match always outranks a synonym match.

Accounts with their own jargon can pass extra groups to ``Retriever.build``.
"""
from __future__ import annotations

SUPPORT_SYNONYM_GROUPS: tuple[tuple[str, ...], ...] = (
    ("deliver", "delivery", "delivered", "delivering", "deliveries", "shipping", "ship",
     "shipped", "dispatch", "dispatched", "arrive", "arrival", "arrived", "arriving"),
    ("parcel", "package", "packet", "shipment", "order", "delivery"),
    ("refund", "refunded", "reimburse", "reimbursement", "repay", "money"),
    ("return", "returning", "exchange"),
    ("cancel", "cancellation", "withdraw"),
    ("password", "passcode", "passphrase"),
    ("login", "logon", "signin", "log", "sign"),
    ("account", "profile"),
    ("address", "postcode", "zipcode", "zip"),
    ("damaged", "broken", "defective", "faulty", "cracked", "smashed", "dented", "torn",
     "scratched", "damage"),
    ("declined", "rejected", "refused", "failed", "denied", "bounced", "decline"),
    ("card", "credit", "debit", "visa", "mastercard", "amex"),
    ("pay", "payment", "paying", "paid", "checkout"),
    ("track", "tracking", "trace", "whereabouts"),
    ("human", "agent", "person", "representative", "staff", "advisor"),
    ("contact", "reach", "call", "phone", "talk", "speak", "chat"),
    ("hours", "opening", "open", "schedule"),
    ("warranty", "guarantee"),
    ("international", "abroad", "overseas", "worldwide", "foreign", "country", "countries"),
    ("cost", "price", "fee", "charge", "charged", "pricing"),
    ("change", "update", "edit", "modify", "amend"),
    ("late", "delayed", "delay", "overdue"),
    ("wrong", "incorrect", "mistake"),
    ("voucher", "coupon", "promo", "discount"),
    ("delete", "remove", "erase"),
    ("lost", "missing", "stolen"),
    ("reset", "forgot", "forgotten", "recover"),
    ("invoice", "receipt", "bill"),
    ("buy", "purchase", "purchased", "bought"),
    ("fast", "express", "expedited", "quick", "quicker", "faster"),
)
