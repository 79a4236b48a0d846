"""What `w2v2jax --help` and `w2v2jax CMD --help` print: what each command does, its
flags and an example; `train --help` also lists the config fields with their defaults."""

import textwrap

COMMANDS = {
    "corpus": (
        (
            "Build a dataset folder: synthesize speech with flite and espeak-ng, or read your "
            "own audio (a LibriSpeech-layout folder or a path<TAB>transcript manifest)."
        ),
        ("out", "task", "num_train", "num_valid", "num_test", "seed", "noisy_test", "overwrite")
        + ("from_librispeech", "from_manifest", "from_audio_dir", "valid_from", "test_from")
        + ("skip_bad_files",),
        "w2v2jax corpus --out=runs/corpus-digits --task=digits --num_train=3000",
    ),
    "train": (
        (
            "Train a model (CTC) on a dataset folder; resumes from the newest checkpoint of "
            "--workdir. Every config field is overridable as --config.FIELD=VALUE."
        ),
        ("config", "workdir", "dry_run", "coordinator_address", "num_processes", "process_id"),
        (
            "w2v2jax train --config=w2v2jax/configs/ctc.py:tiny --workdir=runs/tiny "
            "--config.data_dir=runs/corpus-digits"
        ),
    ),
    "pretrain": (
        (
            "Pretrain a model self-supervised (wav2vec 2.0's contrastive task, as fairseq) on the "
            "audio of a dataset folder, its text unread; resumes like train. Fine-tune it after "
            "with w2v2jax train --config.init_from=WORKDIR."
        ),
        ("config", "workdir", "dry_run", "coordinator_address", "num_processes", "process_id"),
        (
            "w2v2jax pretrain --config=w2v2jax/configs/pretrain.py:tiny --workdir=runs/pre "
            "--config.data_dir=runs/corpus-digits"
        ),
    ),
    "compile": (
        (
            "Compile the training step for a config and mesh without data: per-device memory "
            "and FLOPs of one step."
        ),
        ("config", "seconds", "topology", "coordinator_address", "num_processes", "process_id"),
        "w2v2jax compile --config=w2v2jax/configs/ctc.py:base --config.mesh.fsdp=4 --seconds=16",
    ),
    "transcribe": (
        (
            "Transcribe audio files (arguments, or --manifest) with a trained workdir (or a "
            "`w2v2jax convert` output). Files are sorted by length into a few padded shapes "
            "and run in batches; each gets the text of a one-file pass, and the results come "
            "in the order given. Files over 30 s run alone: a chunked model in one exact "
            "streaming pass, a full-attention model in overlapping chunks. --output_format: "
            "tsv (path<TAB>text[<TAB>times]), json (one JSON object per line; with "
            "--timestamps its words and tokens or phones with times) or srt (subtitle cues; "
            "several files need --output_dir, which gets one NAME.srt each). A file that "
            "fails is reported and the others go on (--strict stops at the first). A "
            "progress bar of audio seconds per second shows on a terminal."
        ),
        (
            "workdir",
            "manifest",
            "beam",
            "timestamps",
            "output_format",
            "output_dir",
            "batch_size",
            "strict",
        ),
        (
            "w2v2jax transcribe --workdir=runs/demo --manifest=list.txt --output_format=json "
            "--timestamps > out.jsonl"
        ),
    ),
    "align": (
        (
            "Force-align a transcript to an audio file: each token's and word's start and "
            "end. With a phoneme model, each phone's: the text is phonemised by espeak-ng, or "
            "given as IPA with --ipa; a phone spans the frames that emit it, blank frames "
            "counted in no phone."
        ),
        ("workdir", "ipa"),
        'w2v2jax align --workdir=runs/demo a.wav "three one four"',
    ),
    "stream": (
        (
            "Stream an audio file through a workdir's model at real-time pace (or "
            "--as_fast_as_possible), or raw 16 kHz mono signed 16-bit PCM from stdin (FILE = -): "
            "prints the hypothesis with its audio time each time it changes, then the final text, "
            "first- and final-guess latency and the real-time factor. A chunked model streams "
            "exactly; a full-attention model re-runs a sliding window (not exact). Live: "
            "arecord -f S16_LE -r 16000 -c 1 -t raw | w2v2jax stream --workdir=DIR -"
        ),
        ("workdir", "chunk_ms", "as_fast_as_possible"),
        "w2v2jax stream --workdir=runs/demo --as_fast_as_possible a.wav",
    ),
    "convert": (
        (
            "Convert a transformers save_pretrained folder or a fairseq checkpoint into a "
            "workdir that transcribe, align and init_from read."
        ),
        ("from_hf", "from_fairseq", "out"),
        "w2v2jax convert --from_hf=wav2vec2-base-960h --out=runs/base-960h",
    ),
}


SUMMARIES = {
    "corpus": "build a dataset folder (synthesized speech, or your recordings)",
    "train": "train a model with CTC on a dataset folder",
    "pretrain": "pretrain a model self-supervised on the audio of a dataset folder",
    "compile": "compile the training step for a mesh: memory and FLOPs, no data",
    "transcribe": "transcribe audio files (batched) with a trained workdir",
    "align": "force-align a transcript to an audio file",
    "stream": "stream a file or live PCM: partial hypotheses, latencies, real-time factor",
    "convert": "convert transformers or fairseq weights into a workdir",
}


def overview() -> str:
    width = max(map(len, COMMANDS))
    lines = ["usage: w2v2jax COMMAND [--flags] [ARGS]", "", "commands:"]
    lines += [f"  {name:<{width}}  {SUMMARIES[name]}" for name in COMMANDS]
    lines += ["", "w2v2jax COMMAND --help shows a command's flags and an example."]
    return "\n".join(lines)


def command_help(name: str, flag_values) -> str:
    what, names, example = COMMANDS[name]
    lines = [f"usage: w2v2jax {name} [--flags]", "", *textwrap.wrap(what, 88), "", "flags:"]
    for flag in names:
        f = flag_values[flag]
        default = "" if f.default in (None, "") else f" (default {f.default})"
        lines.append(f"  --{flag}: {f.help}{default}")
    lines += ["", "example:", f"  {example}"]
    if name in ("train", "pretrain"):
        lines += ["", *config_fields("ctc" if name == "train" else "pretrain")]
    return "\n".join(lines)


def config_fields(config: str) -> list[str]:
    import importlib

    from w2v2jax.models.config import SIZES

    c = importlib.import_module(f"w2v2jax.configs.{config}").get_config("tiny")
    lines = [
        f"model sizes (the config's argument): {', '.join(sorted(SIZES))}",
        "config fields and their defaults (tiny):",
    ]
    for key, value in sorted(_flatten(c.to_dict()).items()):
        lines.append(f"  --config.{key}={value}")
    return lines


def _flatten(d: dict, prefix: str = "") -> dict:
    out = {}
    for k, v in d.items():
        if isinstance(v, dict):
            out.update(_flatten(v, f"{prefix}{k}."))
        else:
            out[prefix + k] = v
    return out
