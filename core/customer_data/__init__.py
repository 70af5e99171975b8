"""A customer's rights over their data: erasure, export and retention
(``subject_requests``), and what ties a stored row to a customer (``footprint``)."""
