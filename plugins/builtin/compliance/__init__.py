"""The built-in compliance rules of the outbound dialer, on the ``compliance_check`` hook.

Each rule is a plugin of its own (so one that raises is isolated and refuses as ``plugin-fault`` while the others
still judge), registered as the built-in ``compliance-<rule>``; its verdict's ``rule`` is the rule name:

=================  =============================================================================================
``dnc``            the number is on the ``global`` do-not-call list or the campaign's ``campaign:<id>`` list
``blocked``        the number is on the ``blocked`` list (people who complained)
``calling-hours``  the callee's local time, in every possible zone, is outside ``[first, last)``; unknown zone
``max-attempts``   the lead's ``attempts`` reached ``max_attempts``
``min-interval``   less than ``min_interval_s`` since the lead's ``last_attempt``
``daily-cap``      ``daily_cap`` dials to the number already on the callee's local calendar day
=================  =============================================================================================

The list rules ask the store (``config["store"]``) on every check. The parameters come with each request
(``request["rules"]``, a campaign's ``CampaignConfig.rules()``); a key it lacks takes the ``[plugins.compliance]``
default (``settings``). ``docs/compliance.md`` is the operator's and plugin author's guide.
"""

from __future__ import annotations

from plugins.builtin.compliance.attempts import MaxAttemptsRule
from plugins.builtin.compliance.base import Rule
from plugins.builtin.compliance.blocked import BlockedRule
from plugins.builtin.compliance.calling_hours import CallingHoursRule
from plugins.builtin.compliance.daily_cap import DailyCapRule
from plugins.builtin.compliance.dnc import DncRule
from plugins.builtin.compliance.interval import MinIntervalRule
from plugins.builtin.compliance.settings import Settings, validate

RULES: dict[str, type[Rule]] = {
    "dnc": DncRule,
    "blocked": BlockedRule,
    "calling-hours": CallingHoursRule,
    "max-attempts": MaxAttemptsRule,
    "min-interval": MinIntervalRule,
    "daily-cap": DailyCapRule,
}
"""Rule name -> its plugin class (the built-in is registered as ``compliance-<rule name>``)."""

__all__ = ["RULES", "BlockedRule", "CallingHoursRule", "DailyCapRule", "DncRule", "MaxAttemptsRule",
           "MinIntervalRule", "Rule", "Settings", "validate"]
