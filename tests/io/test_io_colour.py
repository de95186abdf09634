"""Colour conversion against the published formulas, chroma resampling, `convert_video`."""


import numpy as np
import pytest

from conftest import SAMPLE_Y4M
from inrcodec.io import Video, VideoFormat, convert_video, read_video, rgb_to_video, video_to_rgb
from inrcodec.io.chroma import downsample_chroma, upsample_chroma

#: (Kr, Kb) as published in ITU-R BT.601-7 and BT.709-6.
PUBLISHED = {"bt601": (0.299, 0.114), "bt709": (0.2126, 0.0722)}
BARS = np.array(  # white, black, red, green, blue, yellow, cyan, magenta, grey
    [
        [1, 1, 1],
        [0, 0, 0],
        [1, 0, 0],
        [0, 1, 0],
        [0, 0, 1],
        [1, 1, 0],
        [0, 1, 1],
        [1, 0, 1],
        [0.5] * 3,
    ]
)


def reference_codes(rgb, matrix, full_range, n):
    """n-bit Y'CbCr codes (before rounding) from the BT.601/BT.709 and H.273 equations."""
    kr, kb = PUBLISHED[matrix]
    r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    y = kr * r + (1 - kr - kb) * g + kb * b
    cb, cr = (b - y) / (2 * (1 - kb)), (r - y) / (2 * (1 - kr))
    if full_range:
        codes = [(2**n - 1) * y, (2**n - 1) * cb + 2 ** (n - 1), (2**n - 1) * cr + 2 ** (n - 1)]
    else:
        codes = [
            (219 * y + 16) * 2 ** (n - 8),
            (224 * cb + 128) * 2 ** (n - 8),
            (224 * cr + 128) * 2 ** (n - 8),
        ]
    return np.stack(codes, axis=-1)


def reference_rgb(codes, matrix, full_range, n):
    """R'G'B' from codes by the textbook inverse: R = Y + 2(1-Kr)Cr, B = Y + 2(1-Kb)Cb."""
    kr, kb = PUBLISHED[matrix]
    d_y, d_cb, d_cr = codes[..., 0], codes[..., 1], codes[..., 2]
    if full_range:
        peak, middle = 2**n - 1, 2 ** (n - 1)
        y, cb, cr = d_y / peak, (d_cb - middle) / peak, (d_cr - middle) / peak
    else:
        s = 2 ** (n - 8)
        y, cb, cr = (d_y / s - 16) / 219, (d_cb / s - 128) / 224, (d_cr / s - 128) / 224
    r, b = y + 2 * (1 - kr) * cr, y + 2 * (1 - kb) * cb
    g = (y - kr * r - kb * b) / (1 - kr - kb)
    return np.clip(np.stack([r, g, b], axis=-1), 0, 1)


def yuv444(codes, matrix, full_range, n) -> Video:
    fmt = VideoFormat(
        codes.shape[2],
        codes.shape[1],
        "444",
        n,
        matrix=matrix,
        range="full" if full_range else "limited",
    )
    return Video.from_frames(codes.astype(fmt.dtype), fmt)


def test_known_codes():
    assert np.round(reference_codes(BARS[2], "bt709", False, 8)).tolist() == [63, 102, 240]
    assert np.round(reference_codes(BARS[0], "bt601", False, 10)).tolist() == [940, 512, 512]
    fmt = VideoFormat(3, 1, "444", 8, matrix="bt709")
    assert rgb_to_video(BARS[None, None, [0, 1, 2]], fmt).frames().tolist() == [
        [[[235, 128, 128], [16, 128, 128], [63, 102, 240]]]
    ]
    white_and_black = yuv444(np.array([[[[235, 128, 128], [16, 128, 128]]]]), "bt601", False, 8)
    assert np.allclose(video_to_rgb(white_and_black)[0, 0], [[1, 1, 1], [0, 0, 0]], atol=1e-6)


@pytest.mark.parametrize("matrix", ["bt601", "bt709"])
@pytest.mark.parametrize("full_range", [False, True])
@pytest.mark.parametrize("n", [8, 10])
def test_colour_bars_match_the_published_formulas(matrix, full_range, n):
    rgb = BARS[None, None]  # one frame, one row
    fmt = VideoFormat(
        len(BARS), 1, "444", n, matrix=matrix, range="full" if full_range else "limited"
    )
    exact = np.clip(reference_codes(rgb, matrix, full_range, n), 0, 2**n - 1)
    codes = rgb_to_video(rgb, fmt).frames()
    # Correctly rounded; full-range chroma of saturated colours lands on ties (x.5).
    assert np.abs(codes - exact).max() <= 0.5 + 1e-9
    decoded = video_to_rgb(rgb_to_video(rgb, fmt))
    expected = reference_rgb(codes.astype(np.float64), matrix, full_range, n)
    assert np.allclose(decoded, expected, atol=1e-5)
    assert np.abs(decoded - rgb).max() < 2 / 2**n * 2


@pytest.mark.parametrize("matrix", ["bt601", "bt709"])
@pytest.mark.parametrize("full_range", [False, True])
def test_real_video_to_rgb_matches_the_textbook_inverse(matrix, full_range):
    video = convert_video(read_video(SAMPLE_Y4M, frames=2), chroma="444")
    video = Video(
        video.planes, video.format.with_(matrix=matrix, range="full" if full_range else "limited")
    )
    expected = reference_rgb(video.frames().astype(np.float64), matrix, full_range, 8)
    assert np.abs(video_to_rgb(video) - expected).max() < 1e-5


def test_matrix_override_and_frame_ranges():
    video = read_video(SAMPLE_Y4M, frames=6)
    assert video_to_rgb(video).dtype == np.float32
    assert np.array_equal(video_to_rgb(video, slice(2, 5)), video_to_rgb(video)[2:5])
    tagged_709 = Video(video.planes, video.format.with_(matrix="bt709"))
    assert np.array_equal(video_to_rgb(video, matrix="bt709"), video_to_rgb(tagged_709))
    assert not np.array_equal(video_to_rgb(video, matrix="bt709"), video_to_rgb(video))


@pytest.mark.parametrize("n", [8, 10, 16])
def test_rgb_yuv444_rgb_within_quantisation(n):
    rgb = video_to_rgb(read_video(SAMPLE_Y4M, frames=2))
    fmt = VideoFormat(176, 144, "444", n, matrix="bt709")
    error = np.abs(video_to_rgb(rgb_to_video(rgb, fmt)) - rgb).max()
    # Half a code step in each of Y', Cb, Cr moves R', G', B' by at most 0.5/219 + 1/224.
    assert error <= (0.5 / 219 + 1 / 224) / 2 ** (n - 8) + 1e-6


@pytest.mark.parametrize("siting", ["left", "center", "topleft"])
def test_constant_chroma_survives_up_and_down(siting):
    plane = np.full((2, 6, 8), 77, np.uint8)
    assert np.array_equal(upsample_chroma(plane, siting), np.full((2, 12, 16), 77))
    assert np.array_equal(downsample_chroma(upsample_chroma(plane, siting), siting), plane)


@pytest.mark.parametrize(
    "siting, horizontal_phase, vertical_phase",
    [("left", 0, 0.5), ("center", 0.5, 0.5), ("topleft", 0, 0)],
)
def test_ramps_are_sampled_at_the_siting(siting, horizontal_phase, vertical_phase):
    """Chroma sample (i, j) sits at luma position (2i + vertical phase, 2j + horizontal phase):
    a plane linear in position is upsampled to the same linear function of the luma position
    and downsampled back, exactly, away from the one-sample border."""
    h, w = 8, 10
    ramp = lambda rows, cols: 3.0 * rows + 5.0 * cols + 1  # noqa: E731
    chroma = ramp(
        2 * np.arange(h)[:, None] + vertical_phase, 2 * np.arange(w)[None] + horizontal_phase
    )
    luma_grid = ramp(np.arange(2 * h)[:, None], np.arange(2 * w)[None])
    inner = np.s_[2:-2, 2:-2]
    assert np.array_equal(upsample_chroma(chroma, siting)[inner], luma_grid[inner])
    assert np.array_equal(downsample_chroma(luma_grid, siting)[1:-1, 1:-1], chroma[1:-1, 1:-1])


@pytest.mark.parametrize("siting", ["left", "center", "topleft"])
def test_down_after_up_is_the_1_6_1_filter(siting):
    """What the filters guarantee on any content: down(up(c)) = c * [1, 6, 1] / 8 per axis."""
    chroma = read_video(SAMPLE_Y4M, frames=2).planes[1].astype(np.float64)
    smoothed = (chroma[:, :, :-2] + 6 * chroma[:, :, 1:-1] + chroma[:, :, 2:]) / 8
    smoothed = (smoothed[:, :-2] + 6 * smoothed[:, 1:-1] + smoothed[:, 2:]) / 8
    round_trip = downsample_chroma(upsample_chroma(chroma, siting), siting)
    assert np.allclose(round_trip[:, 1:-1, 1:-1], smoothed)


def test_convert_420_444_420_on_real_chroma():
    video = read_video(SAMPLE_Y4M, frames=4)
    back = convert_video(convert_video(video, chroma="444"), chroma="420")
    assert np.array_equal(back.planes[0], video.planes[0])
    error = np.abs(back.planes[1].astype(int) - video.planes[1])
    # The [1, 6, 1] / 8 smoothing of test_down_after_up_is_the_1_6_1_filter, on real content.
    assert error.mean() < 0.5 and error.max() <= 16


def test_convert_bit_depth():
    video = read_video(SAMPLE_Y4M, frames=2)
    ten = convert_video(video, bit_depth=10)
    assert ten.format.bit_depth == 10 and np.array_equal(
        ten.planes[2], video.planes[2].astype(np.uint16) << 2
    )
    assert convert_video(ten, bit_depth=8) == video
    real_ten = rgb_to_video(video_to_rgb(video), ten.format)  # with real low bits
    expected = np.minimum((real_ten.planes[0].astype(np.uint32) + 2) >> 2, 255)
    assert np.array_equal(convert_video(real_ten, bit_depth=8).planes[0], expected)


def test_convert_through_rgb():
    video = read_video(SAMPLE_Y4M, frames=2)
    rgb = convert_video(video, chroma="rgb")
    assert rgb.format.chroma == "rgb" and np.array_equal(
        rgb.frames(), np.floor(video_to_rgb(video) * 255 + 0.5)
    )
    back = convert_video(rgb, chroma="420")
    assert back.format == video.format
    assert np.abs(back.planes[0].astype(int) - video.planes[0]).mean() < 0.5
    as_709 = convert_video(video, matrix="bt709")
    assert as_709.format.matrix == "bt709"
    assert np.abs(video_to_rgb(as_709) - video_to_rgb(video)).mean() < 2 / 255
    assert convert_video(video) is video
