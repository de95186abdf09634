"""What a codec may use to train, apart from the interface it implements (`inrcodec.codecs`):
`fitting` (a network fitted to one video: HiNeRV, NVRC), `losses` (its distortions, NVRC eqs.
10, 11), `run` (what every trainer shares: device, resume, checkpoints, progress) and
`checkpoints` (safetensors, never pickle). No decoder loads this package."""
