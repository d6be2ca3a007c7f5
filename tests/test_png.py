"""The report's PNG writer (crmlib.png): lossless RGBA, the resolution as Pillow writes it, valid
chunks; and figure_png uses it (the pixels against matplotlib's own PNG are tests/test_style.py's)."""

from __future__ import annotations

import io
import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from crmlib.png import encode_png


def _chunks(data: bytes) -> list[tuple[bytes, bytes]]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    found, at = [], 8
    while at < len(data):
        length, = struct.unpack(">I", data[at:at + 4])
        kind, body = data[at + 4:at + 8], data[at + 8:at + 8 + length]
        crc, = struct.unpack(">I", data[at + 8 + length:at + 12 + length])
        assert crc == zlib.crc32(kind + body) & 0xFFFFFFFF, kind
        found.append((kind, body))
        at += 12 + length
    return found


@pytest.mark.parametrize("shape", [(1, 1), (3, 5), (518, 1152), (7, 2)])
def test_pixels_decode_to_the_same_rgba(shape):
    rng = np.random.default_rng(sum(shape))
    rgba = rng.integers(0, 256, size=(*shape, 4), dtype=np.uint8)
    rgba[: shape[0] // 2] = 255  # flat white rows above noise: the filter's wrap-around both ways
    decoded = np.asarray(Image.open(io.BytesIO(encode_png(rgba, 144.0))))
    assert decoded.shape == rgba.shape and (decoded == rgba).all()


def test_chunks_and_resolution_are_pillows():
    rgba = np.zeros((4, 6, 4), dtype=np.uint8)
    ours = _chunks(encode_png(rgba, 144.0))
    assert [kind for kind, _ in ours] == [b"IHDR", b"pHYs", b"IDAT", b"IEND"]
    assert struct.unpack(">IIBBBBB", ours[0][1]) == (6, 4, 8, 6, 0, 0, 0)  # 8-bit RGBA, not interlaced
    buffer = io.BytesIO()
    Image.fromarray(rgba).save(buffer, format="png", dpi=(144.0, 144.0))
    pillows = dict(_chunks(buffer.getvalue()))
    assert ours[1][1] == pillows[b"pHYs"] == struct.pack(">IIB", 5669, 5669, 1)  # 144 dpi in pixels per metre


def test_only_8_bit_rgba_is_taken():
    with pytest.raises(ValueError, match="8-bit RGBA"):
        encode_png(np.zeros((2, 2, 3), dtype=np.uint8), 144.0)
    with pytest.raises(ValueError, match="8-bit RGBA"):
        encode_png(np.zeros((2, 2, 4), dtype=np.float32), 144.0)


def test_report_figures_are_written_by_it_and_other_requests_by_matplotlib():
    import matplotlib as mpl
    from matplotlib.figure import Figure

    from crmlib.charts import figure_png
    from crmlib.style import apply_style

    with mpl.rc_context():
        apply_style("ja")
        fig = Figure(figsize=(2.0, 1.0))
        fig.subplots().plot([0, 1], [1, 0])
        kinds = [kind for kind, _ in _chunks(figure_png(fig))]
        assert kinds == [b"IHDR", b"pHYs", b"IDAT", b"IEND"]  # one IDAT: crmlib.png, not Pillow
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png")  # matplotlib's own metadata (a Software text chunk): Pillow
        assert b"tEXt" in [kind for kind, _ in _chunks(buffer.getvalue())]
