"""The differentiable ops, one `Function` each, grouped by family (one file per family)."""
