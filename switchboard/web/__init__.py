"""The web views of the entry point: the JSON API, health, /metrics, the home page,
the playground, and what every request is screened and logged with."""
