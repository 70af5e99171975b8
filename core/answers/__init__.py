"""An answer drafted from knowledge-base passages (``drafting``), every sentence checked
against them (``grounding``), its tokens counted offline (``tokens``)."""
