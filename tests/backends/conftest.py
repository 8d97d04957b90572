import pytest
import torch


@pytest.fixture(autouse=True)
def one_thread():
    """Tiny models on a shared CPU: one thread is tens of times faster than several spinning against each other."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
