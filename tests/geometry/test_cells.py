import numpy as np

from groundlm.geometry.cells import cell_pixels, cell_shares, resized_labels


def test_cell_shares_pool_a_mask_onto_the_grid():
    mask = np.zeros((32, 32), dtype=bool)
    mask[0:8, 0:4] = True  # half of the top-left 8 x 8 cell
    mask[16:32, 16:32] = True  # the bottom-right 2 x 2 cells, whole
    shares = cell_shares(mask, 4, cell_pixels_per_side=8)
    expected = np.zeros((4, 4))
    expected[0, 0] = 0.5
    expected[2:, 2:] = 1.0
    np.testing.assert_allclose(shares, expected)
    # A mask of another size is resized (nearest) first: the same shares from a 64-pixel version.
    big = np.kron(mask, np.ones((2, 2), dtype=bool))
    np.testing.assert_allclose(cell_shares(big, 4, cell_pixels_per_side=8), expected)


def test_cell_pixels_and_resized_labels_keep_labels_intact():
    labels = np.arange(16, dtype=np.int32).reshape(4, 4)
    cells = cell_pixels(labels, 2)
    assert cells.shape == (2, 2, 4) and cells[0, 1].tolist() == [2, 3, 6, 7]
    up = resized_labels(labels, 8)
    assert set(np.unique(up)) == set(range(16))  # nearest neighbour: no blended label
