"""Figures of the posts' claims, drawn from the model's own code and a trained workdir.

python -m experiments.figures --workdir=runs/demo --out=runs/demo/figures
"""
