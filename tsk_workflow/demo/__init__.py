"""``tsk demo``: a municipality's whole year, end to end, through the production code paths."""
