"""Actions journeys call by name (`do:` in dialogs/*.yaml).

Importing this package registers every action and option provider in
`bot.actions.registry.registry`.
"""

from bot.actions import cases, consent, knowledge, linking, orgs, safety, settings, vouchers

__all__ = ["cases", "consent", "knowledge", "linking", "orgs", "safety", "settings", "vouchers"]
