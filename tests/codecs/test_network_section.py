"""The network configuration section shared by the HiNeRV and NVRC payloads."""

from __future__ import annotations

from dataclasses import replace

import pytest

from inrcodec.codecs.network_section import (
    NAME,
    NETWORK,
    checked_parameter_specs,
    network_config,
    network_values,
)
from inrcodec.coding import BitstreamError, VideoHeader
from inrcodec.coding.fields import Table
from inrcodec.nets.hinerv import PRESETS, preset

SECTION = Table(NAME, NETWORK)


@pytest.mark.parametrize("size", [(4, 144, 176), (600, 1080, 1920)])
def test_every_preset_configuration_survives_the_section(size):
    for name in PRESETS:
        config = preset(name, *size)
        values = SECTION.parse(SECTION.write(network_values(config)), "network")
        assert network_config(values) == config


def test_limits_and_invalid_configurations_are_refused():
    config = preset("hinerv-tiny", 4, 144, 176)
    values = network_values(config)
    with pytest.raises(ValueError, match="total stride 512 above 256"):
        SECTION.write({**values, "strides": (2, 4, 4, 16)})
    with pytest.raises(ValueError, match=r"channels\[1\] = 5000"):
        SECTION.write({**values, "channels": (8, 5000, 4, 4)})
    even = SECTION.parse(SECTION.write({**values, "kernel": 4}), "network")
    with pytest.raises(BitstreamError, match="invalid configuration"):
        network_config(even)


def read_back(values: dict) -> dict:
    """``values`` written with the limits of the fields alone (no cross-field checks), then
    read by the section's table."""
    data = NAME.write(values) + b"".join(field.write(values) for field in NETWORK.fields)
    return SECTION.parse(data, "network")


def test_a_network_with_an_mlp_of_width_zero_is_refused_while_reading():
    values = network_values(preset("hinerv-tiny", 4, 144, 176))
    assert values["channels"][3] == 4
    zero_width = {**values, "expansions": (4.0, 4.0, 4.0, 1 / 16)}  # int(4 / 16) = 0
    with pytest.raises(BitstreamError, match=r"stage 3 has an MLP of width int\(4 x 0.0625\) = 0"):
        read_back(zero_width)
    with pytest.raises(ValueError, match="MLP of width"):
        SECTION.write(zero_width)
    assert read_back({**values, "expansions": (4.0, 4.0, 4.0, 0.25)})["expansions"][3] == 0.25


HEADER = VideoHeader(width=176, height=144, frame_count=4, fps_num=30)


@pytest.mark.parametrize("size", [(1, 2, 2), (4, 144, 176), (30, 144, 176), (600, 1080, 1920)])
def test_every_preset_is_no_finer_than_its_video(size):
    frames, height, width = size
    header = VideoHeader(width=width, height=height, frame_count=frames, fps_num=30)
    for name in PRESETS:
        assert checked_parameter_specs(preset(name, *size), header)


@pytest.mark.parametrize(
    ("change", "match"),
    [
        ({"grid_size": (5, 9, 11, 1)}, r"grid level 0 \(5x9x11\) finer than the 4x144x176 video"),
        ({"grid_size": (1, 145, 11, 1)}, "grid level 0 .* finer than"),
        ({"grid_size": (1, 9, 177, 1)}, "grid level 0 .* finer than"),
        ({"grid_size": (3, 9, 11, 1), "grid_ratios": (0.5, 1, 1, 1)}, "grid level 1 .* finer"),
        ({"local_grid_size": (5, 2)}, "stage 0 local grid level 0: 5 slices for 4 frames"),
        ({"local_grid_ratios": (0.5, 0.5)}, "stage 0 local grid level 1: 8 slices for 4 frames"),
    ],
)
def test_a_grid_finer_than_the_video_is_refused_before_the_network_is_laid_out(change, match):
    config = replace(preset("hinerv-tiny", 4, 144, 176), **change)
    with pytest.raises(BitstreamError, match=f"model: {match}"):
        checked_parameter_specs(config, HEADER)
