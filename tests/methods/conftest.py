from tests.models.conftest import tiny_model  # noqa: F401  (fixtures shared with the models' and training tests)
from tests.train.conftest import tiny_split  # noqa: F401
