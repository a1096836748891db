"""Datasets: REACT 2024 and REACT 2025 (MARS) layouts, windows, and the synthetic corpus."""
