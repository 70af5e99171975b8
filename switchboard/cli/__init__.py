"""The `switchboard` command: one module per command group (`switchboard --help` lists them).

A module registers its commands on ``main`` when imported; importing them here is what
puts them on the command line."""
from switchboard.cli import (  # noqa: F401  (each registers its commands)
    accounts,
    calls,
    database,
    evaluate,
    intents,
    kb,
    knowledge_loop,
    privacy,
    qa,
    reports,
    serve,
    slack,
    texts,
    zendesk,
)
from switchboard.cli.base import main

__all__ = ["main"]
