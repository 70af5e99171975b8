"""The tables every capability builds on, one module per area; every table is named
here, so ``from switchboard.core.store.models import Conversation`` works whichever module holds it
(and Alembic sees them all through ``Base.metadata``).

Every row carries ``account_id``: one deployment serves several companies' helpdesks,
and scoping each query by account is what keeps one company's customers invisible to
another's requests.
"""
from switchboard.core.store.models.actions import ActionExecution, CustomerVerification
from switchboard.core.store.models.base import NAMING, Base, JSONType, UTCDateTime, utcnow
from switchboard.core.store.models.conversations import (
    Artifact,
    AuditEntry,
    Conversation,
    InboxEvent,
    Message,
    OutboxCall,
    SyncState,
    VaultEntry,
)
from switchboard.core.store.models.customers import Account, ApiKey, Customer, Identity, IdentityKind, WebVisitor
from switchboard.core.store.models.knowledge import (
    KbArticle,
    KbDraft,
    LearnedPhrasing,
    PhrasingEvidence,
    PhrasingStamp,
    Suggestion,
    SuggestionFeedback,
)
from switchboard.core.store.models.outcomes import ConversationOutcome, ConversationScore, MetricEvent
from switchboard.core.store.models.outreach import (
    OutreachCampaign,
    OutreachRecipient,
    OutreachSegment,
    SlackInstallation,
)

__all__ = [
    "Account", "ActionExecution", "ApiKey", "Artifact", "AuditEntry", "Base", "Conversation",
    "ConversationOutcome", "ConversationScore", "Customer", "CustomerVerification", "Identity", "IdentityKind",
    "InboxEvent", "JSONType", "KbArticle", "KbDraft", "LearnedPhrasing", "Message", "MetricEvent", "NAMING",
    "OutboxCall",
    "OutreachCampaign", "OutreachRecipient", "OutreachSegment", "PhrasingEvidence", "PhrasingStamp",
    "SlackInstallation", "Suggestion", "SuggestionFeedback", "SyncState", "UTCDateTime", "VaultEntry",
    "WebVisitor", "utcnow",
]
