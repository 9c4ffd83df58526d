"""The Access Reviews section: operators, grants, approvals and review campaigns."""
