"""The compiled lägesbild (situation report) of a cycle.

From the answers of a cycle's reporter tasks (tasks whose form has a question that is the
lägesbild's ``category``), the reports of the same process's cycles in the eleven months before,
and optionally a CSV of crime statistics, ``build`` computes the figures (pure), ``render`` turns
them into Markdown or HTML with Jinja2 (the HTML autoescaped, its chart an inline SVG made by
``chart``). ``collect`` reads what ``build`` needs from the database; ``produce`` attaches the
lägesbild to a cycle when it enters the step that produces one.

    collect.gather(session, org, definition, cycle) -> collect.Gathered
    build.build(gathered, org, definition, stats, lang, now) -> model.Lagesbild
    render.render(lagesbild, "md" | "html") -> str
"""

from __future__ import annotations
