"""Reports that go to KS and KF, made from the record: ``tsk report``.

A report is built once, as a :class:`~tsk_workflow.reports.model.Report` (headings, paragraphs,
tables and charts, every figure and date already written as it is read in the report's
language), by a builder that reads the engine (``yearly``, ``tjansteskrivelse``,
``lagesbild``). It is then written by one of two renderers that decide nothing about its
content: DOCX with python-docx (``docx_file``: the headings are Word's own heading styles, so a
municipality's template restyles them) and PDF from HTML with WeasyPrint (``pdf_file``: tagged,
PDF/UA-1).
"""
