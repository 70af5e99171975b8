"""Start-up checks: the action definitions and the policy are read and cross-checked
when the app is created, so a typo stops the service with the file, line and field
named instead of letting it start and then fail every customer message."""
from __future__ import annotations

from switchboard.core.actions.config import ActionsConfig, load_actions_config
from switchboard.core.actions.errors import ActionConfigError
from switchboard.core.actions.policy import ActionPolicy, load_action_policy
from switchboard.core.actions.registry import REGISTRY
from switchboard.core.settings import Settings


def check_configuration(settings: Settings) -> tuple[ActionPolicy, ActionsConfig]:
    """Load both files (raising ActionConfigError on the first bad one) and make sure
    every action the policy enables has the HTTP operations it calls."""
    policy = load_action_policy(getattr(settings, "action_policy_file", None))
    config = load_actions_config(getattr(settings, "actions_file", None))
    missing = [f"operations.{operation}: is missing, but the policy enables {name}, which calls it; add it or "
               f"remove {name} from the policy" for name in policy.actions
               for operation in REGISTRY[name].operations if operation not in config.operations]
    if missing:
        raise ActionConfigError(config.source, "\n".join(sorted(set(missing))))
    return policy, config
