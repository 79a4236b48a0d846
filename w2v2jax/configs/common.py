"""The fields every training run shares, whatever its objective (ctc.py, and the coming
pretraining config, start from `run_config`).

The sharding rules are built here from the model's axis names (models/axes.py) and the
mesh's (train/sharding.py), so neither side spells the other's strings.
"""

import ml_collections

from w2v2jax.models import axes
from w2v2jax.models.config import get_config as model_config
from w2v2jax.train.sharding import BATCH_AXES, FSDP, TENSOR


def sharding_rules() -> tuple:
    """Logical axis -> mesh axis: batch over data x fsdp, weights' embed dim over fsdp
    (ZeRO-3 style), heads/mlp/conv channels over tensor (Megatron style)."""
    return (
        (axes.BATCH, BATCH_AXES),
        (axes.LENGTH, None),
        (axes.EMBED, FSDP),
        (axes.MLP, TENSOR),
        (axes.HEADS, TENSOR),
        (axes.VOCAB, None),
        (axes.CONV_OUT, TENSOR),
        (axes.CONV_IN, None),
        (axes.KERNEL, None),
        (axes.NORM, None),
        (axes.LAYERS, None),
        (axes.POSITIONS, None),
        (axes.CODEVECTORS, None),  # the pretraining quantizer and projections: small,
        (axes.CODEVECTOR_DIM, None),  # replicated
        (axes.PROJ, None),
    )


def run_config(size: str) -> ml_collections.ConfigDict:
    """Model, data, optimiser, schedule, checkpoints, logging and mesh of a run."""
    c = ml_collections.ConfigDict()
    c.objective = ""  # set by the objective's config: "ctc", ...
    c.model = ml_collections.ConfigDict(model_config(size).to_dict())

    c.data_dir = ""  # a folder written by `w2v2jax corpus` or `w2v2jax corpus --from_*`
    # Audio is padded up to one of a few lengths (one compiled step each): num_buckets > 0
    # fits that many to the training lengths (least padding); 0 uses bucket_seconds.
    c.num_buckets = 8
    c.bucket_seconds = (1.5, 2.0, 2.5, 3.0, 4.0, 6.0)
    c.max_seconds = 16.0  # with num_buckets: longer training utterances are left out (logged)
    # Train on a seeded subset of this many train utterances (0 = all): few-label fine-tuning.
    # Subsets of one seed are nested; data/subset.py.
    c.train_examples = 0
    c.train_examples_seed = 0
    # Training audio augmentation (data/augment.py), each with its probability per utterance,
    # seeded by (seed, batch, utterance) so a resumed run sees the same audio; 0 = off.
    c.augment = ml_collections.ConfigDict()
    c.augment.speed_prob = 0.0
    c.augment.speed_factors = (0.9, 1.0, 1.1)  # by resampling; length / factor
    c.augment.pitch_prob = 0.0
    c.augment.pitch_semitones = (-2.0, 2.0)
    c.augment.noise_prob = 0.0
    c.augment.snr_db = (5.0, 20.0)
    c.augment.noise_dir = ""  # a folder of noise recordings; "" synthesizes noise
    c.augment.reverb_prob = 0.0
    c.augment.rt60_s = (0.2, 0.8)
    c.augment.num_rooms = 16  # simulated once per process (about 8 s), then drawn from
    c.augment.telephone_prob = 0.0  # 8 kHz, mu-law, 300-3400 Hz
    c.augment.gain_prob = 0.0
    c.augment.gain_db = (-6.0, 6.0)

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
    # Seconds of training; the schedule is laid over the steps that fit (train/budget.py).
    c.time_budget_s = 0.0  # 0 = no budget
    # What the budget counts (train/budget.py): "wall" seconds, or "cpu": this process's CPU
    # seconds over its cores, which a machine busy with other work slows as it slows the run.
    c.time_budget_clock = "wall"

    c.log_every = 10
    c.eval_every = 500
    c.eval_splits = ("validation", "test")
    c.checkpoint_every = 500
    c.keep_checkpoints = 3

    c.precompile = True  # compile every bucket's train/eval step before the clock starts
    c.compile_threads = 2
    c.mesh = ml_collections.ConfigDict({"data": -1, "fsdp": 1, "tensor": 1})
    c.logical_rules = sharding_rules()
    c.peak_flops = 0.0  # per device, for MFU; 0 = look up the device kind
    return c
