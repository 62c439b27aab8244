"""The staff web panel (accounts and roles, content, partners, monitoring).

Reserved: it is built in its own issue on top of the tier 1 core. Until then
staff list waiting cases with `family-window cases` and edit knowledge in
`knowledge/*.yaml` (`family-window content load`).
"""
