"""The Compliance section: status tiles, a check's detail, the history chart, the printed report."""
