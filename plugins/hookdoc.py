"""The hook reference of ``docs/plugins.md``, generated from the docstrings of ``plugins/hookspecs.py``.

``python -m plugins.hookdoc docs/plugins.md`` rewrites the file from its ``## Hook reference`` heading to the end;
``tests/plugins/test_plugin_hooks.py`` checks that the file matches, so the contract has one source.
"""

from __future__ import annotations

import inspect
import sys
from pathlib import Path

from plugins import hookspecs

HEADING = "## Hook reference"
FAMILIES = (("switchboard_", "Lifecycle"), ("ivr_", "IVR"), ("crm_", "CRM"), ("ticket", "Tickets"),
            ("compliance_", "Compliance"), ("channel_", "Channel adapters"), ("observe_", "Observers"))
INTRO = """Generated from the docstrings of `plugins/hookspecs.py` by `python -m plugins.hookdoc docs/plugins.md` (a test
checks that this section matches them).

`Verdict(allowed: bool, reason: str = "", rule: str = "")` — frozen dataclass, importable as `plugins.Verdict`.

Channel hooks acting on one contact are firstresult and keyed by `channel`: an adapter returns `None` for channels
it does not own.
"""


def _specs() -> list:
    return [f for f in vars(hookspecs).values() if inspect.isfunction(f) and hasattr(f, "switchboard_spec")]


def render() -> str:
    """The reference section, heading included, in the order the specs are defined, grouped by family."""
    out = [HEADING, "", INTRO]
    family = None
    for spec in _specs():
        name = next((title for prefix, title in FAMILIES if spec.__name__.startswith(prefix)), "Other")
        if name != family:
            family = name
            out += [f"### {name}", ""]
        kind = "firstresult" if spec.switchboard_spec.get("firstresult") else "collected"
        signature = str(inspect.signature(spec)).replace("'", "")
        out += [f"#### `{spec.__name__}{signature}` — {kind}", "", inspect.getdoc(spec) or "", ""]
    return "\n".join(out).rstrip() + "\n"


def rewrite(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    head = text.split(HEADING, 1)[0]
    path.write_text(head + render(), encoding="utf-8")


if __name__ == "__main__":
    rewrite(Path(sys.argv[1] if len(sys.argv) > 1 else "docs/plugins.md"))
