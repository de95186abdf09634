"""The network configuration section shared by the HiNeRV and NVRC payloads."""

from __future__ import annotations

import pytest

from inrcodec.codecs.network_section import NAME, NETWORK, network_config, network_values
from inrcodec.coding import BitstreamError
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
