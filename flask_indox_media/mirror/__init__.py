"""Mirroring: finding audio in Resemble's answers (:mod:`.detect`), fixing each
asset's key once (:mod:`.claims`), copying the bytes in a job
(:mod:`.download`), rewriting the answer (:mod:`.rewrite`), dual-write copies
(:mod:`.replicate`) and callbacks forwarded to the caller (:mod:`.forward`)."""
