"""Registers the session fixtures (real reads, SeaweedFS, the seqr stand-in, nginx) for every test folder.

They live in tests/fixtures/session.py; pytest.ini puts tests/ on sys.path so ``fixtures.session`` imports.
"""

pytest_plugins = ["fixtures.session"]
