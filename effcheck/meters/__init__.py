"""Ways of measuring, one per module; each returns numbers or a Measurement and imports torch lazily.

    params    exact parameter counts (works on the meta device)
    flops     FLOPs and multiply-adds through torch's FlopCounterMode (works on the meta device)
    latency   interleaved A/B time ratios with robust statistics; CUDA-synchronized timers
    memory    peak allocated bytes (CUDA allocator; a deterministic live-tensor tracker on CPU),
              and the bytes held by a cache or recurrent state
"""
