"""The Keys & Signing section: modules, tokens and keys in a tree, their details, and what can be
done with them (sign, verify, CSRs, checkpoints)."""
