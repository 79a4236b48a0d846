"""Logical axis names for parameters and activations.

Modules declare which logical axis each dimension is; the mesh rules in the training
config map these names to mesh axes (data, fsdp, tensor). Nothing here knows a mesh.
"""

BATCH = "batch"
LENGTH = "length"
EMBED = "embed"
MLP = "mlp"
HEADS = "heads"
VOCAB = "vocab"
CONV_IN = "conv_in"
CONV_OUT = "conv_out"
KERNEL = "conv_kernel"
NORM = "norm"
LAYERS = "layers"
POSITIONS = "positions"
# Pretraining: the G*V codebook entries, the quantized vector (Q and its Q/G pieces) and
# the space where predictions meet targets (P). Small: replicated unless a rule says otherwise.
CODEVECTORS = "codevectors"
CODEVECTOR_DIM = "codevector_dim"
PROJ = "proj"
