import pytest

from groundlm.metrics import MeteorScorer


@pytest.fixture(scope="session")
def meteor():
    with MeteorScorer() as scorer:
        yield scorer
