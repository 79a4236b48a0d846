"""Positional-embedding ablation: conv vs sinusoidal vs learned vs rope vs none.

python -m experiments.positional_ablation [--quick] --out=DIR
"""
