"""Campaigns that try to break the vault's promises many times over (issue 13): crash (kill -9
during writes), tamper (mutated files, audit rows and rollbacks), fuzz (every parser of outside
input) and secret hygiene (a canary searched for everywhere it must not be).

Each campaign is a function taking its size and a seed and returning counts; the ``test_campaign_*``
modules run small versions in the suite, ``python tests/campaigns/soak.py`` (``make soak``) runs the
full ones and prints the tables published in tests/bench/results.md.
"""
