"""Outcome metrics: recorded as events where things happen (``metrics``), and the figures
computed from them (``figures``). Low in the core: every flow records into it."""
