"""TeCoNeRV training corpus (inrcodec.codecs.teconerv.data): finding videos, resizing, the frame
cache, epoch samples and validation tubelets."""

import os
from pathlib import Path

import numpy as np
import pytest
import torch

import inrcodec.codecs.teconerv.data as data
from inrcodec.codecs.teconerv.data import (
    ClipCache,
    ClipSamples,
    CorpusError,
    find_videos,
    validation_tubelets,
)
from inrcodec.codecs.teconerv.resize import resize_and_crop
from inrcodec.io import VideoFormat, read_video, rgb_to_video, video_to_rgb, write_video

pytestmark = pytest.mark.usefixtures("one_torch_thread")

SIZE = (32, 48)  # cache resolution (height, width) of these tests


def _grey_levels(n):
    return np.linspace(0.1, 0.9, n)


def _write_greys(path, frames=12, height=48, width=64):
    """A video whose frame t is a flat grey (level `_grey_levels(frames)[t]`), as y4m (full
    range 4:4:4, so the greys survive exactly) or, without a suffix, as a PNG folder."""
    rgb = _grey_levels(frames)[:, None, None, None] * np.ones((frames, height, width, 3))
    chroma = "rgb" if path.suffix == "" else "444"
    write_video(rgb_to_video(rgb, VideoFormat(width, height, chroma, range="full")), path)
    return path


def _npy_files(folder):
    return sorted(Path(folder).glob("*.npy"))


# ---------------------------------------------------------------- find_videos


def test_find_videos_in_a_nested_tree(tmp_path):
    for name in [
        "b/zebra.mp4",
        "b/alpaca.y4m",
        "a/clip.MP4",
        "a/deep/er/video.mkv",
        "a/notes.txt",
        "c/frames/0001.png",
        "c/frames/0002.png",
        "top.y4m",
        "readme.md",
        "raw_176x144.yuv",
    ]:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(b"")
    (tmp_path / "empty").mkdir()
    found = find_videos(tmp_path)
    expected = [
        "a/clip.MP4",
        "a/deep/er/video.mkv",
        "b/alpaca.y4m",
        "b/zebra.mp4",
        "c/frames",
        "raw_176x144.yuv",
        "top.y4m",
    ]
    assert found == sorted(tmp_path / e for e in expected)
    assert found == sorted(found)
    assert find_videos(str(tmp_path)) == found


def test_find_videos_of_real_files_reads_them(tmp_path, sample_y4m):
    (tmp_path / "x").mkdir()
    os.symlink(sample_y4m, tmp_path / "x" / "carphone.y4m")
    _write_greys(tmp_path / "y" / "greys")
    found = find_videos(tmp_path)
    assert found == [tmp_path / "x" / "carphone.y4m", tmp_path / "y" / "greys"]
    assert [read_video(p).num_frames for p in found] == [32, 12]


def test_find_videos_errors(tmp_path):
    with pytest.raises(CorpusError, match="no videos"):
        find_videos(tmp_path)
    (tmp_path / "notes.txt").write_text("not a video")
    with pytest.raises(CorpusError, match="no videos"):
        find_videos(tmp_path)
    with pytest.raises(CorpusError, match="not a folder"):
        find_videos(tmp_path / "missing")
    with pytest.raises(CorpusError, match="not a folder"):
        find_videos(tmp_path / "notes.txt")


# ---------------------------------------------------------------- resize_and_crop


def test_resize_and_crop_output_size():
    rgb = torch.rand(3, 3, 144, 176)
    assert resize_and_crop(rgb, (32, 48)).shape == (3, 3, 32, 48)
    assert resize_and_crop(rgb, (128, 192)).shape == (3, 3, 128, 192)
    assert torch.equal(resize_and_crop(rgb, (144, 176)), rgb)  # same size: untouched


def test_resize_and_crop_upscales_2x_and_takes_the_centre():
    # columns hold a ramp, rows are constant: 8 wide -> 16 wide (scale 2, set by the height),
    # then columns 4..11. Bilinear (align_corners=False) puts output column x at source
    # coordinate x / 2 - 1/4, inside the source for every column kept, so the ramp is exact.
    ramp = torch.arange(8, dtype=torch.float32) / 8
    rgb = (ramp + torch.tensor([0.0, 0.1, 0.2])[:, None]).view(1, 3, 1, 8).expand(2, 3, 6, 8)
    out = resize_and_crop(rgb, (12, 8))
    assert out.shape == (2, 3, 12, 8)
    x = torch.arange(4, 12, dtype=torch.float32)
    expected = (x / 2 - 0.25) / 8 + torch.tensor([0.0, 0.1, 0.2])[:, None]
    torch.testing.assert_close(out, expected[None, :, None, :].expand(2, 3, 12, 8))


@pytest.mark.parametrize("wide", [True, False])
def test_resize_and_crop_aspect(wide):
    # a 40x10 (or 10x40) ramp along the long side to 8x8: the short side is scaled to 8 (x0.8),
    # the long side to 32, of which the centre 8 are kept: source positions 15..25
    ramp = torch.arange(40, dtype=torch.float32).expand(10, 40)
    image = ramp if wide else ramp.T
    out = resize_and_crop(image.expand(1, 3, *image.shape).contiguous(), (8, 8))
    assert out.shape == (1, 3, 8, 8)
    along = out[0, 0] if wide else out[0, 0].T  # the long axis last
    torch.testing.assert_close(along, along[:1].expand(8, 8))  # constant across the short side
    assert torch.all(along[0].diff() > 0)
    assert 15 <= along[0, 0] < along[0, -1] <= 25
    torch.testing.assert_close(along.mean(), torch.tensor(19.5), atol=0.05, rtol=0)


def test_resize_and_crop_to_a_wider_aspect():
    # 20x20 to 16 wide x 8 high: scaled to 16x16 (set by the width), rows 4..11 kept
    ramp = torch.arange(20, dtype=torch.float32)[:, None].expand(20, 20)
    out = resize_and_crop(ramp.expand(1, 3, 20, 20).contiguous(), (8, 16))
    assert out.shape == (1, 3, 8, 16)
    torch.testing.assert_close(out[0, 0].mean(), torch.tensor(9.5), atol=0.05, rtol=0)
    assert torch.all(out[0, 0, :, 0].diff() > 0)


# ---------------------------------------------------------------- ClipCache


def test_cache_prepare_decodes_each_video_once(tmp_path, sample_y4m, monkeypatch):
    greys = _write_greys(tmp_path / "greys.y4m")
    cache = ClipCache(tmp_path / "cache", SIZE)
    first = cache.prepare([sample_y4m, greys], progress=False)
    assert len(_npy_files(tmp_path / "cache")) == 2
    assert [a.shape for a in first] == [(32, *SIZE, 3), (12, *SIZE, 3)]
    assert all(a.dtype == np.uint8 and isinstance(a, np.memmap) for a in first)
    assert [cache.entry(v) for v in (sample_y4m, greys)] == [Path(a.filename) for a in first]
    # flat greys stay flat and keep their level
    levels = np.round(_grey_levels(12) * 255)
    assert np.array_equal(first[1], np.broadcast_to(levels[:, None, None, None], first[1].shape))
    # the real clip: its own frames, resized (more than one conversion chunk of 16 frames)
    rgb = torch.from_numpy(video_to_rgb(read_video(sample_y4m))).permute(0, 3, 1, 2)
    expected = resize_and_crop(rgb, SIZE).mul(255).round().permute(0, 2, 3, 1).numpy()
    assert np.abs(first[0].astype(np.float32) - expected).max() <= 1
    assert first[0].std() > 20  # a real picture, not a blank

    def fail(*args):
        raise AssertionError("decoded again")

    monkeypatch.setattr(data, "_decode", fail)
    again = cache.prepare([greys, sample_y4m], progress=True)  # order given, from the cache
    assert len(_npy_files(tmp_path / "cache")) == 2
    assert np.array_equal(again[0], first[1]) and np.array_equal(again[1], first[0])


def test_cache_decodes_a_changed_video_again(tmp_path):
    video = _write_greys(tmp_path / "v.y4m")
    cache = ClipCache(tmp_path / "cache", SIZE)
    (old,) = cache.prepare([video], progress=False)
    old_entry = cache.entry(video)
    assert old.shape[0] == 12
    _write_greys(video, frames=10)  # new size (and contents)
    (new,) = cache.prepare([video], progress=False)
    assert cache.entry(video) != old_entry
    assert new.shape[0] == 10 and new[0, 0, 0, 0] == round(0.1 * 255)
    assert len(_npy_files(tmp_path / "cache")) == 2
    before = cache.entry(video)
    stat = video.stat()
    os.utime(video, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))  # touched only
    assert cache.entry(video) != before
    cache.prepare([video], progress=False)
    assert len(_npy_files(tmp_path / "cache")) == 3


def test_cache_entry_depends_on_size_and_max_frames(tmp_path, sample_y4m):
    entries = {
        ClipCache(tmp_path, size, max_frames).entry(sample_y4m)
        for size in [(32, 48), (48, 32)]
        for max_frames in [None, 8]
    }
    assert len(entries) == 4
    assert ClipCache(tmp_path, SIZE).entry(sample_y4m) == ClipCache(tmp_path, SIZE).entry(
        sample_y4m.parent / ".." / "samples" / sample_y4m.name
    )


def test_cache_with_workers_equals_one_process(tmp_path, sample_y4m):
    videos = [sample_y4m, _write_greys(tmp_path / "a.y4m"), _write_greys(tmp_path / "frames", 9)]
    one = ClipCache(tmp_path / "one", SIZE).prepare(videos, workers=1, progress=False)
    two = ClipCache(tmp_path / "two", SIZE).prepare(videos, workers=2, progress=False)
    assert [a.shape[0] for a in two] == [32, 12, 9]
    assert all(np.array_equal(a, b) for a, b in zip(one, two, strict=True))
    assert len(_npy_files(tmp_path / "two")) == 3


def test_cache_max_frames_bounds_the_length(tmp_path, sample_y4m):
    (clip,) = ClipCache(tmp_path, SIZE, max_frames=10).prepare([sample_y4m], progress=False)
    (whole,) = ClipCache(tmp_path, SIZE).prepare([sample_y4m], progress=False)
    assert clip.shape == (10, *SIZE, 3)
    assert np.array_equal(clip, whole[:10])


def test_cache_max_frames_keeps_a_shorter_video_whole(tmp_path):
    video = _write_greys(tmp_path / "v.y4m", frames=12)
    (frames,) = ClipCache(tmp_path / "cache", SIZE, max_frames=20).prepare([video], progress=False)
    assert frames.shape[0] == 12


def test_cache_reports_an_unreadable_video(tmp_path):
    bad = tmp_path / "bad.y4m"
    bad.write_bytes(b"not a video at all")
    with pytest.raises(CorpusError, match="cannot read a training video"):
        ClipCache(tmp_path / "cache", SIZE).prepare([bad], progress=False)
    assert _npy_files(tmp_path / "cache") == []  # nothing half-written


# ---------------------------------------------------------------- ClipSamples


def _videos(lengths=(20, 15), height=24, width=32, seed=0):
    rng = np.random.default_rng(seed)
    return [rng.integers(0, 256, (n, height, width, 3), dtype=np.uint8) for n in lengths]


def _as_clip(frames):
    """uint8 ``(T, h, w, 3)`` -> float ``(T, 3, h, w)`` in [0, 1]."""
    return torch.from_numpy(np.array(frames)).permute(0, 3, 1, 2).float() / 255


def test_samples_are_a_function_of_seed_and_epoch():
    videos = _videos()
    a = ClipSamples(videos, (8, 16), 4, 5, seed=3)
    b = ClipSamples(videos, (8, 16), 4, 5, seed=3)
    assert len(a) == 0  # nothing drawn before set_epoch
    a.set_epoch(2)
    b.set_epoch(2)
    assert len(a) == 10 and a.samples == b.samples
    assert all(torch.equal(a[i], b[i]) for i in range(len(a)))
    first = list(a.samples)
    a.set_epoch(3)
    assert a.samples != first
    a.set_epoch(2)
    assert a.samples == first  # back to epoch 2: the same draw
    c = ClipSamples(videos, (8, 16), 4, 5, seed=4)
    c.set_epoch(2)
    assert c.samples != first
    assert sorted(s.video for s in first) == [0] * 5 + [1] * 5
    assert [s.video for s in first] != sorted(s.video for s in first)  # shuffled


@pytest.mark.parametrize("pairs", [False, True])
def test_sample_items_are_the_source_pixels(pairs):
    videos = _videos()
    th, tw, frames = 8, 16, 4
    ds = ClipSamples(videos, (th, tw), frames, 6, pairs=pairs, seed=1)
    ds.set_epoch(0)
    clips = 2 if pairs else 1
    for i, s in enumerate(ds.samples):
        item = ds[i]
        assert item.shape == (clips, frames, 3, th, tw) and item.dtype == torch.float32
        assert 0 <= item.min() and item.max() <= 1
        source = videos[s.video]
        for k in range(clips):  # clip k: frames start + k N .. start + (k+1) N - 1, same place
            block = source[s.start + k * frames : s.start + (k + 1) * frames]
            assert torch.equal(
                item[k], _as_clip(block[:, s.top : s.top + th, s.left : s.left + tw])
            )


@pytest.mark.parametrize("pairs", [False, True])
def test_samples_reach_every_start_and_position(pairs):
    # 10 frames, 6x7 tubelets of 8x9 frames: starts 0..6 (or 0..2 for pairs), 3 tops, 3 lefts
    videos = _videos((10,), 8, 9)
    ds = ClipSamples(videos, (6, 7), 4, 300, pairs=pairs, seed=0)
    ds.set_epoch(0)
    span = 8 if pairs else 4
    assert {s.start for s in ds.samples} == set(range(10 - span + 1))
    assert {s.top for s in ds.samples} == {0, 1, 2}
    assert {s.left for s in ds.samples} == {0, 1, 2}


def test_samples_work_with_a_data_loader():
    videos = _videos()
    ds = ClipSamples(videos, (8, 16), 4, 3, pairs=True, seed=0)
    ds.set_epoch(0)
    batches = list(torch.utils.data.DataLoader(ds, batch_size=4))
    assert [b.shape for b in batches] == [(4, 2, 4, 3, 8, 16), (2, 2, 4, 3, 8, 16)]


def test_samples_reject_short_videos_and_large_tubelets():
    videos = _videos((20, 7, 9))
    ClipSamples(videos, (8, 16), 4, 1)  # 4 frames: all long enough
    with pytest.raises(CorpusError, match="at least 8 frames; 1 of 3 have fewer"):
        ClipSamples(videos, (8, 16), 4, 1, pairs=True)
    with pytest.raises(CorpusError, match="at least 10 frames; 2 of 3 have fewer"):
        ClipSamples(videos, (8, 16), 10, 1)
    with pytest.raises(CorpusError):
        ClipSamples([], (8, 16), 4, 1)
    with pytest.raises(CorpusError, match="16x32 tubelets do not fit 32x24 frames"):
        ClipSamples(videos, (32, 16), 4, 1)


# ---------------------------------------------------------------- validation_tubelets


def test_validation_tubelets_cover_the_grid():
    (frames,) = _videos((20,), 50, 70)
    clips, where = validation_tubelets(frames, (16, 32), 8)
    # starts 0, 8 (frames 16..19 make no complete clip); tops 0, 16, 32; lefts 0, 32
    assert where == [(s, y, x) for s in (0, 8) for y in (0, 16, 32) for x in (0, 32)]
    assert clips.shape == (12, 8, 3, 16, 32) and clips.dtype == torch.float32
    for clip, (s, y, x) in zip(clips, where, strict=True):
        assert torch.equal(clip, _as_clip(frames[s : s + 8, y : y + 16, x : x + 32]))
    covered = np.zeros((20, 50, 70), int)
    for s, y, x in where:
        covered[s : s + 8, y : y + 16, x : x + 32] += 1
    assert covered.max() == 1  # no overlap
    assert covered[:16, :48, :64].min() == 1 and covered.sum() == 16 * 48 * 64


def test_validation_tubelets_max_clips():
    (frames,) = _videos((24,), 32, 32)
    clips, where = validation_tubelets(frames, (16, 16), 8, max_clips=2)
    assert clips.shape[0] == 8
    assert sorted({s for s, _, _ in where}) == [0, 8]
    assert len(validation_tubelets(frames, (16, 16), 8)[1]) == 12
    assert len(validation_tubelets(frames, (16, 16), 8, max_clips=5)[1]) == 12


def test_validation_tubelets_need_a_complete_clip():
    (frames,) = _videos((7,), 32, 32)
    with pytest.raises(CorpusError, match="7 frames has no complete 8-frame clip"):
        validation_tubelets(frames, (16, 16), 8)
    (exact,) = _videos((8,), 32, 32)
    assert validation_tubelets(exact, (16, 16), 8)[0].shape == (4, 8, 3, 16, 16)


def test_camera_motion_is_a_smooth_deterministic_move_over_the_still():
    from inrcodec.codecs.teconerv.corpus import camera_motion

    y, x = np.mgrid[0:240, 0:320]
    still = np.stack([x % 256, y % 256, (x * y) % 256], axis=-1).astype(np.uint8)
    video = camera_motion(still, 12, (48, 64), seed=3)
    assert video.shape == (12, 48, 64, 3) and video.dtype == np.uint8
    assert np.array_equal(video, camera_motion(still, 12, (48, 64), seed=3))
    assert not np.array_equal(video, camera_motion(still, 12, (48, 64), seed=4))
    step = [np.abs(video[i + 1].astype(int) - video[i]).mean() for i in range(11)]
    whole = np.abs(video[-1].astype(int) - video[0]).mean()
    assert whole > 1 and max(step) < whole  # it moves, and gradually
