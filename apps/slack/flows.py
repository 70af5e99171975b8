"""The supervisors' side of the core's flows, as the Slack app shows them: outreach
approval requests, decisions and progress, governed-action approvals and the weekly
digest. :mod:`switchboard.wiring` installs this as ``ports.supervisor_flows``."""
from __future__ import annotations

from sqlalchemy.orm import Session

from switchboard.apps.slack import action_approvals, kb_review, outreach
from switchboard.apps.slack.client import SlackConnector
from switchboard.apps.slack.digest_view import digest_blocks
from switchboard.core.actions.policy import ActionPolicy
from switchboard.core.knowledge_loop.digest import Digest
from switchboard.core.ports import CallResult
from switchboard.core.settings import Settings
from switchboard.core.store.models import Account, ActionExecution, KbDraft, OutreachCampaign


class SlackSupervisorFlows:
    def request_campaign_approval(self, session: Session, account: Account, settings: Settings,
                                  campaign: OutreachCampaign) -> None:
        outreach.request_approval(session, account, settings, campaign)

    def show_campaign_decision(self, session: Session, account: Account, settings: Settings,
                               campaign: OutreachCampaign) -> None:
        outreach.show_decision(session, account, settings, campaign)

    def post_campaign_progress(self, session: Session, account: Account, settings: Settings,
                               campaign: OutreachCampaign, *, text: str, key: str) -> None:
        outreach.post_in_thread(session, account, settings, campaign, text=text, key=key)

    def request_action_approval(self, session: Session, account: Account, settings: Settings,
                                execution: ActionExecution, policy: ActionPolicy, preview: str) -> None:
        action_approvals.post_request(session, account, settings, execution, policy, preview)

    def post_digest(self, session: Session, account: Account, settings: Settings, digest: Digest, *,
                    account_name: str, channel: str, idempotency_key: str) -> CallResult:
        text, blocks = digest_blocks(digest, account_name=account_name)
        return SlackConnector(session, account, settings).post_message(
            channel=channel, text=text, blocks=blocks, idempotency_key=idempotency_key)

    def request_draft_review(self, session: Session, account: Account, settings: Settings, draft: KbDraft) -> None:
        kb_review.request_review(session, account, settings, draft)

    def show_draft_decision(self, session: Session, account: Account, settings: Settings, draft: KbDraft) -> None:
        kb_review.show_decision(session, account, settings, draft)
