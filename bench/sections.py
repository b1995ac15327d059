"""Sections of bench/RESULTS.md that a scenario rewrites alone (`python -m bench.roster`, `python -m bench.activity`).

A section runs from its `## ` heading to the next one; one that RESULTS.md lacks goes before the closing notes, so
sections added one after another keep their order.
"""

import re

CLOSING = "## What limits each number"


def with_section(text: str, section: str) -> str:
    """`text` with the section that starts with `section`'s heading (its first line) replaced by `section`, or with
    `section` added before the closing notes (at the end when there are none)."""
    heading = section.split("\n", 1)[0]
    pattern = re.compile(rf"^{re.escape(heading)}\n.*?(?=\n## |\Z)", re.S | re.M)
    if pattern.search(text):
        return pattern.sub(lambda _: section.rstrip("\n") + "\n", text, count=1)
    if CLOSING in text:
        return text.replace(CLOSING, section.rstrip("\n") + "\n\n" + CLOSING, 1)
    return text.rstrip("\n") + "\n\n" + section.rstrip("\n") + "\n"
