"""The Zendesk sidebar app, whole: its front end (ZAF v2: ``manifest.json``, ``assets/``,
``translations/``), the API it calls through Zendesk's proxy (``sidebar_api``,
``actions_api``), the packager that zips it for upload (``packager``) and the stand-in
agent workspace ``switchboard zendesk preview`` serves (``preview_server``, ``preview/``)."""
