"""Operators, roles, grants, approvals and access reviews."""
