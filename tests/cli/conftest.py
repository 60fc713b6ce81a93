"""A pushed synthetic contract model for the command tests."""
import pytest

from tests.support.serving import CATALOG_1, MODEL, publish


@pytest.fixture(scope="module")
def model_base(tmp_path_factory):
    base = tmp_path_factory.mktemp("serving")
    (base / MODEL).mkdir()
    publish(CATALOG_1, base / MODEL, 1)
    return base
