"""Ways of measuring, one per module; each returns numbers or a Measurement and imports torch lazily.

    params    exact parameter counts (works on the meta device)
    flops     FLOPs and multiply-adds through torch's FlopCounterMode (works on the meta device)
    latency   interleaved A/B time ratios with robust statistics; CUDA-synchronized timers
    memory    peak allocated bytes (CUDA allocator; a deterministic live-tensor tracker on CPU),
              and the bytes held by a cache or recurrent state
    allocator peak bytes at the CPU allocator itself (fused-kernel scratch included)
    sweep     peak memory at chosen points of one generation (tokens -> bytes), OOM as a point's outcome
    state     a cache's state tensors (by field name) apart from its bookkeeping; constancy and slope
    roofline  achieved FLOP/s against the device's measured matmul peak
    arithmetic, rounding, scaling, linear_fit, image_similarity: pure helpers of single claim families
"""
