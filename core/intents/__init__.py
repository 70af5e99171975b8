"""The intent model: fitting and scoring (``model``, with ``scoring``, ``calibration``
and its training ``data``), the account's fitted model kept and reverted (``store``) and
its sentence vectors (``vectors``). Kept empty: scikit-learn, SciPy and skops come with
``model``, so a web process that only imports ``store`` for a type never loads them."""
