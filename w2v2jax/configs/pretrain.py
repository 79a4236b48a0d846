"""Self-supervised wav2vec 2.0 pretraining, faithful to fairseq, on unlabeled audio.

    w2v2jax corpus --out=data/digits --task=digits --num_train=3000   # or --from_audio_dir=DIR
    w2v2jax pretrain --config=w2v2jax/configs/pretrain.py:tiny --workdir=runs/pre \
        --config.data_dir=data/digits
    w2v2jax train --config=w2v2jax/configs/ctc.py:tiny --config.init_from=runs/pre ...

The argument names the model size (micro | tiny | base | large). Every size keeps fairseq's
objective (masking 0.65 x 10, 100 negatives, Gumbel temperature (2, 0.5, 0.999995), loss
weights 0.1 and 10, feature_grad_mult 0.1). base follows fairseq's wav2vec2_base_librispeech
recipe (Adam lr 5e-4, eps 1e-6, 32k of 400k steps warmup, linear decay, no clipping);
large reuses it with its own codebook size and lr 3e-4 (check fairseq's large yaml for
your data before a pod run). micro and tiny scale the codebook and schedule to a CPU.
"""

import ml_collections

from w2v2jax.configs.common import run_config

CODEBOOKS = {  # size -> (groups, codes per group, codevector_dim, proj_codevector_dim)
    "micro": (2, 16, 32, 32),
    "tiny": (2, 64, 128, 128),
    "base": (2, 320, 256, 256),
    "large": (2, 320, 768, 768),
}


def get_config(arg: str = "tiny") -> ml_collections.ConfigDict:
    size = arg or "tiny"
    c = run_config(size)
    c.objective = "pretrain"
    g, v, q, p = CODEBOOKS[size] if size in CODEBOOKS else CODEBOOKS["base"]
    m = c.model
    m.num_codevector_groups, m.num_codevectors_per_group = g, v
    m.codevector_dim, m.proj_codevector_dim = q, p
    m.mask_time_prob, m.mask_time_length, m.mask_time_min_masks = 0.65, 10, 2
    m.num_negatives = 100
    m.contrastive_logits_temperature = 0.1
    m.diversity_loss_weight = 0.1
    m.feature_grad_mult = 0.1
    m.feat_quantizer_dropout = 0.1 if size in ("base", "large") else 0.0
    c.feature_penalty_weight = 10.0
    c.gumbel_temperature = (2.0, 0.5, 0.999995)  # (start, floor, decay per update)
    # A codebook whose soft perplexity stays under this share of its G x V codes for
    # health_patience steps has collapsed: the run warns, then stops (checkpoints kept).
    c.collapse_fraction = 0.02
    c.health_patience = 200

    c.learning_rate = 5e-4
    c.adam_eps = 1e-6
    c.weight_decay = 0.01
    c.grad_clip = 0.0 if size in ("base", "large") else 1.0
    c.schedule = "linear"
    c.final_lr_ratio = 0.0
    if size in ("base", "large"):
        c.total_steps, c.warmup_steps, c.batch_size = 400_000, 32_000, 64
        c.learning_rate = 5e-4 if size == "base" else 3e-4
        c.max_seconds = 15.6  # fairseq's max_sample_size 250000 samples
    else:
        c.total_steps, c.warmup_steps = 2000, 200
    c.eval_splits = ("validation",)
    return c
