"""CTC training of a Wav2Vec2 model on the built-in synthesized corpus (or your own data).

    w2v2jax corpus --out=data/digits --task=digits --num_train=3000
    w2v2jax train --config=w2v2jax/configs/ctc.py:tiny --workdir=runs/tiny \
        --config.data_dir=data/digits --config.total_steps=1500

The argument names the model size (tiny | base | large); every field below, and every
field of the model config under `model.`, is overridable: --config.model.posemb=rope.
Expected: `make demo` (this config, tiny, 10 minutes on 2 CPU cores) reaches the CER
quoted in README.md.
"""

import ml_collections

from w2v2jax.models.config import get_config as model_config


def get_config(arg: str = "tiny") -> ml_collections.ConfigDict:
    c = ml_collections.ConfigDict()
    c.model = ml_collections.ConfigDict(model_config(arg or "tiny").to_dict())
    c.model.mask_time_prob = 0.05 if arg == "tiny" else c.model.mask_time_prob
    c.model.vocab_size = -1  # set from the tokenizer

    c.data_dir = ""  # a folder written by `w2v2jax corpus` or `w2v2jax corpus --from_*`
    c.task = "digits"  # informational: the corpus decides
    c.label = "text"  # "text" (characters) or "phonemes" (IPA)
    # Audio is padded up to one of a few lengths (one compiled step each): num_buckets > 0
    # fits that many to the training lengths (least padding); 0 uses bucket_seconds.
    c.num_buckets = 8
    c.bucket_seconds = (1.5, 2.0, 2.5, 3.0, 4.0, 6.0)
    c.max_seconds = 16.0  # with num_buckets: longer training utterances are left out (logged)
    c.skip_infeasible = True  # drop examples whose labels cannot fit (counted)
    c.zero_infinity = True  # else: an infeasible pair gives an infinite loss and stops

    c.total_steps = 1500
    c.batch_size = 16
    c.grad_accum = 1  # micro-batches per step; batch_size is the total per step
    c.learning_rate = 1e-3
    c.schedule = "cosine"  # cosine | linear | tri_stage | constant
    c.warmup_steps = 300
    c.tri_stage = (0.1, 0.4, 0.5)
    c.final_lr_ratio = 0.05
    c.weight_decay = 0.01
    c.b1, c.b2, c.adam_eps = 0.9, 0.98, 1e-8
    c.grad_clip = 1.0
    c.freeze_feature_encoder = False
    c.freeze_transformer_steps = 0
    c.init_from = ""  # a `w2v2jax convert` output or another run's workdir
    c.seed = 0
    c.time_budget_s = 0.0  # stop (and save) after this much training time; 0 = no budget

    c.log_every = 10
    c.eval_every = 500
    c.eval_splits = ("validation", "test")
    c.eval_beam = 0  # beam width for the beam-search CER at the end; 0 = greedy only
    c.checkpoint_every = 500
    c.keep_checkpoints = 3

    c.precompile = True  # compile every bucket's train/eval step before the clock starts
    c.compile_threads = 2
    c.mesh = ml_collections.ConfigDict({"data": -1, "fsdp": 1, "tensor": 1})
    c.logical_rules = ()  # empty: w2v2jax.train.sharding.DEFAULT_RULES
    c.peak_flops = 0.0  # per device, for MFU; 0 = look up the device kind
    return c
