"""Tier 2: consultants take a case over and talk with the family in its own chat."""
