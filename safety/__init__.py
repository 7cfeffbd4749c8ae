"""Safety in the serving path: policy, detectors, stream guard, moderation, bias probes."""
