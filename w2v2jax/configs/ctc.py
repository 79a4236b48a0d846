"""CTC training of a Wav2Vec2 model on the built-in synthesized corpus (or your own data).

    w2v2jax corpus --out=data/digits --task=digits --num_train=3000
    w2v2jax train --config=w2v2jax/configs/ctc.py:tiny --workdir=runs/tiny \
        --config.data_dir=data/digits --config.total_steps=1500

The argument names the model size (micro | tiny | base | large); every field below and in
common.py, and every field of the model config under `model.`, is overridable:
--config.model.posemb=rope. Expected: `make demo` (this config, tiny, 10 minutes on 2 CPU
cores) reaches the CER quoted in README.md.
"""

import ml_collections

from w2v2jax.configs.common import run_config


def get_config(arg: str = "tiny") -> ml_collections.ConfigDict:
    size = arg or "tiny"
    c = run_config(size)
    c.objective = "ctc"
    c.model.vocab_size = -1  # set from the dataset's symbol inventory

    c.label = "text"  # "text" (characters) or "phonemes" (IPA)
    c.skip_infeasible = True  # drop examples whose labels cannot fit (counted)
    c.zero_infinity = True  # else: an infeasible pair gives an infinite loss and stops
    c.eval_beam = 0  # beam width for the beam-search CER at the end; 0 = greedy only
    return c
