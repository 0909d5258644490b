"""image_stack_random_transform refuses a layout that would rotate the wrong plane (#15)."""

import numpy as np
import pytest

from napari_datatools.data_augmentation import image_stack_random_transform


def test_a_zyx_volume_with_channel_axis_1_is_refused():
    volume = np.zeros((4, 32, 40), np.float32)
    labels = np.zeros((4, 32, 40), np.uint8)
    with pytest.raises(ValueError, match=r"channel_axis: axis 1 of the 3-D x .*\(x\[:, None\]"):
        image_stack_random_transform(volume, y=labels, channel_axis=1, rotation_range=10)


@pytest.mark.parametrize("shape,axis", [((4, 1, 32, 40), 1), ((4, 32, 40, 3), -1),
                                        ((2, 32, 40), 0)])
def test_channels_first_or_last_are_accepted(shape, axis):
    x = np.random.default_rng(0).random(shape, dtype=np.float32)
    out = image_stack_random_transform(x, channel_axis=axis, rotation_range=10, rng=0)
    assert out.shape == x.shape
