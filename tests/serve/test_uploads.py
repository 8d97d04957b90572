import base64
import io

import pytest
from PIL import Image

from groundlm.serve.uploads import BadRequestError, UploadLimits, check_box, decode_base64, parse_box_text, read_image


def png(size=(20, 10), mode="RGB", fmt="PNG") -> bytes:
    buffer = io.BytesIO()
    Image.new(mode, size, 128).save(buffer, format=fmt)
    return buffer.getvalue()


def refused(status, fn, *args):
    with pytest.raises(BadRequestError) as err:
        fn(*args)
    assert err.value.status == status, str(err.value)
    return str(err.value)


def test_read_image_accepts_common_formats_as_rgb():
    for fmt, mode in (("PNG", "RGBA"), ("JPEG", "RGB"), ("BMP", "RGB"), ("GIF", "P"), ("WEBP", "RGB")):
        image = read_image(png(mode=mode, fmt=fmt), UploadLimits())
        assert image.mode == "RGB" and image.size == (20, 10)


def test_read_image_refuses_bad_uploads_with_their_status():
    limits = UploadLimits(max_bytes=2000, max_side=100, max_pixels=5000)
    assert "empty" in refused(400, read_image, b"", limits)
    assert "limit" in refused(413, read_image, b"x" * 2001, limits)
    assert "not an image" in refused(415, read_image, b"%PDF-1.4 not a picture", limits)
    assert "TIFF" in refused(415, read_image, png(fmt="TIFF"), limits)
    assert "101x1" in refused(400, read_image, png((101, 1)), limits)  # a side too long
    assert "80x80" in refused(400, read_image, png((80, 80)), limits)  # too many pixels
    truncated = png((60, 60))[:-30]
    assert "decoded" in refused(415, read_image, truncated, limits)


def test_dimensions_are_checked_before_decoding():
    # A 10000 x 10000 PNG is ~30 KB on disk and 300 MB decoded: refused from its header.
    big = io.BytesIO()
    Image.new("1", (10000, 10000)).save(big, format="PNG")
    assert "10000x10000" in refused(400, read_image, big.getvalue(), UploadLimits())
    # Past PIL's own bomb limit the header alone is refused too.
    huge = io.BytesIO()
    Image.new("1", (30000, 30000)).save(huge, format="PNG")
    assert "900000000" in refused(400, read_image, huge.getvalue(), UploadLimits(max_side=40000, max_pixels=10**9))


def test_base64_with_and_without_data_url():
    data = png()
    text = base64.b64encode(data).decode()
    assert decode_base64(text, UploadLimits()) == data
    assert decode_base64("data:image/png;base64," + text, UploadLimits()) == data
    assert "base64" in refused(400, decode_base64, "not base64 at all!", UploadLimits())
    assert "limit" in refused(413, decode_base64, "A" * 200, UploadLimits(max_bytes=100))


def test_boxes_must_lie_inside_the_image():
    assert check_box(["1", 2, 30.5, 40], 64, 48) == (1.0, 2.0, 30.5, 40.0)
    assert check_box(parse_box_text("0, 0, 64, 48"), 64, 48) == (0.0, 0.0, 64.0, 48.0)
    for bad in ([0, 0, 65, 10], [10, 0, 5, 10], [0, 0, 10], ["a", 0, 1, 1], [0, 0, float("nan"), 1], [-1, 0, 5, 5]):
        refused(400, check_box, bad, 64, 48)
    refused(400, check_box, None, 64, 48)
    assert parse_box_text("  ") is None
