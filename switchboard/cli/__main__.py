"""`python -m switchboard.cli`, as the tests and benchmarks start it."""
from switchboard.cli import main

main()
