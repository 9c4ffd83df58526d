"""The Audit Log section: the filtered, paged event table and the chain and checkpoint checks."""
