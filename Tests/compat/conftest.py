"""Shared fixtures of the compatibility suites; Tests/compat/run starts the server and sets the environment."""
import os

import pytest


@pytest.fixture(scope="session")
def proctor_url():
    """The server's base URL, e.g. http://127.0.0.1:PORT (each dialect adds its own prefix)."""
    url = os.environ.get("PROCTOR_URL")
    if not url:
        pytest.skip("PROCTOR_URL is not set: run the suites with Tests/compat/run")
    return url.rstrip("/")


@pytest.fixture(scope="session")
def proctor_token():
    """The site admin's API token."""
    return os.environ["PROCTOR_TOKEN"]


@pytest.fixture(scope="session")
def scratch_dir(tmp_path_factory):
    """A directory for files the clients upload or download."""
    path = os.environ.get("PROCTOR_COMPAT_DIR")
    return path if path else str(tmp_path_factory.mktemp("compat"))
