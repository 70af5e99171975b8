"""The knowledge loop (issue 38): unanswered questions ranked (``gaps``), articles drafted
from how agents answered them (``drafts``, ``edits``), proven (``proof``), published
(``publish``), checked against the base (``conflicts``), measured (``impact``), and the
weekly ``digest`` supervisors read."""
