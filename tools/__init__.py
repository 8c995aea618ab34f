"""Scripts beside the suites: speed comparisons, the gate's power trials, the GPU probe check."""
