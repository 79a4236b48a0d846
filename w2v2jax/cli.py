"""The `w2v2jax` command: corpus, train, pretrain, compile, transcribe, align, stream,
convert.

w2v2jax corpus --out=DIR --task=digits --num_train=3000 --seed=0
w2v2jax corpus --out=DIR --from_librispeech=LibriSpeech/train-clean-100 [--valid_from=...]
w2v2jax corpus --out=DIR --from_audio_dir=AUDIO [--valid_from=AUDIO2]   # unlabeled
w2v2jax train --config=w2v2jax/configs/ctc.py:tiny --workdir=DIR --config.data_dir=DIR
w2v2jax pretrain --config=w2v2jax/configs/pretrain.py:tiny --workdir=DIR --config.data_dir=DIR
w2v2jax compile --config=w2v2jax/configs/ctc.py:base --config.mesh.fsdp=4 --seconds=16
w2v2jax transcribe --workdir=DIR [--beam=N] [--timestamps] [--output_format=json] FILE...
w2v2jax align --workdir=DIR [--ipa] FILE "TEXT"
w2v2jax stream --workdir=DIR [--chunk_ms=N] [--as_fast_as_possible] FILE|-
w2v2jax convert --from_hf=DIR | --from_fairseq=FILE --out=DIR
"""

import contextlib
import os
import sys

from absl import app, flags, logging
from ml_collections import config_flags

from w2v2jax import allocator, cli_args, cli_help
from w2v2jax.errors import InputError, UsageError, W2V2JaxError

config_flags.DEFINE_config_file("config", None, "Training config: path.py:arg.")
flags.DEFINE_string("workdir", None, "Run folder (checkpoints, vocab.json, metrics.jsonl).")
flags.DEFINE_string("out", None, "Output folder (corpus, convert).")
flags.DEFINE_string("task", "digits", "Corpus task: digits or words.")
flags.DEFINE_integer("num_train", 3000, "Training utterances to synthesize.")
flags.DEFINE_integer("num_valid", None, "Validation utterances (default 10% of num_train).")
flags.DEFINE_integer("num_test", None, "Test utterances (default 10% of num_train).")
flags.DEFINE_integer("seed", 0, "Corpus seed.")
flags.DEFINE_bool(
    "noisy_test",
    False,
    "Corpus: also test on a reverberated, noised copy of each test utterance (group 'noisy').",
)
flags.DEFINE_bool(
    "overwrite", False, "Replace a dataset in --out built with other settings (nothing else)."
)
flags.DEFINE_string("from_librispeech", None, "Corpus from a LibriSpeech-layout folder.")
flags.DEFINE_string("from_manifest", None, "Corpus from a TSV manifest (path<TAB>text).")
flags.DEFINE_string("from_audio_dir", None, "Corpus of unlabeled audio files (pretraining).")
flags.DEFINE_string("valid_from", None, "Validation split folder/manifest (with --from_*).")
flags.DEFINE_string("test_from", None, "Test split folder/manifest (with --from_*).")
flags.DEFINE_bool("skip_bad_files", False, "With --from_*: leave out unreadable audio files.")
flags.DEFINE_string("from_hf", None, "convert: a transformers save_pretrained folder.")
flags.DEFINE_string("from_fairseq", None, "convert: a fairseq checkpoint file.")
flags.DEFINE_integer("beam", 0, "transcribe: beam width (0 = greedy).")
flags.DEFINE_bool(
    "timestamps", False, "transcribe: print word start/end times (a phoneme model's: phones')."
)
flags.DEFINE_bool("ipa", False, "align, phoneme model: TEXT is IPA (else espeak-ng phonemises it).")
flags.DEFINE_bool(
    "strict", False, "transcribe: stop at the first file that fails (default: name it, go on)."
)
flags.DEFINE_integer(
    "chunk_ms", 160, "stream: milliseconds of audio per push (a file's pieces, stdin's reads)."
)
flags.DEFINE_bool(
    "as_fast_as_possible",
    False,
    "stream: push a file's pieces without waiting for their audio time (default: real time).",
)
flags.DEFINE_string(
    "manifest", None, "transcribe: a file of audio paths, one a line (or path<TAB>anything)."
)
flags.DEFINE_enum(
    "output_format", "tsv", ["tsv", "json", "srt"], "transcribe: path<TAB>text, JSON Lines or SRT."
)
flags.DEFINE_string(
    "output_dir", None, "transcribe: write transcripts.tsv|.jsonl or one NAME.srt per file here."
)
flags.DEFINE_integer(
    "batch_size", 0, "transcribe: files per batch (0 = about 8 s of padded audio per batch)."
)
flags.DEFINE_float("seconds", 16.0, "compile: utterance length to compile for.")
flags.DEFINE_string("topology", None, "compile: a TPU slice to compile for (needs libtpu).")
flags.DEFINE_string("coordinator_address", None, "Multi-host: HOST:PORT of process 0.")
flags.DEFINE_integer("num_processes", None, "Multi-host: number of processes.")
flags.DEFINE_integer("process_id", None, "Multi-host: this process's index.")
flags.DEFINE_bool("dry_run", False, "train: compile the step, print memory/FLOPs, stop.")
FLAGS = flags.FLAGS


def _need(name):
    value = getattr(FLAGS, name)
    if value in (None, ""):
        raise UsageError(f"--{name} is required for this command")
    return value


def cmd_corpus(args):
    from w2v2jax.data import corpus, folders

    out = _need("out")
    if args:
        raise UsageError(f"corpus takes no arguments, got {args}; give every input as a flag")
    sources = ("from_librispeech", "from_manifest", "from_audio_dir")
    given = [name for name in sources if getattr(FLAGS, name)]
    if len(given) > 1:
        raise UsageError(
            "give one of --from_librispeech, --from_manifest or --from_audio_dir, not "
            f"{' and '.join('--' + g for g in given)}; the other splits go in --valid_from "
            "and --test_from"
        )
    # Flags of the other kind of corpus would be ignored silently: refuse them.
    synth_only = ("task", "num_train", "num_valid", "num_test", "seed", "noisy_test")
    other = synth_only if given else ("valid_from", "test_from", "skip_bad_files")
    ignored = [f"--{name}" for name in other if FLAGS[name].present]
    if ignored:
        kind = "a corpus from your recordings" if given else "a synthesized corpus"
        raise UsageError(f"{', '.join(ignored)} cannot be used for {kind}; remove them")
    if given:
        splits = {"train": getattr(FLAGS, given[0])}
        if FLAGS.valid_from:
            splits["validation"] = FLAGS.valid_from
        if FLAGS.test_from:
            splits["test"] = FLAGS.test_from
        path = folders.build_dataset(
            out,
            splits,
            skip_bad_files=FLAGS.skip_bad_files,
            overwrite=FLAGS.overwrite,
            unlabeled=given[0] == "from_audio_dir",
        )
    else:
        path = corpus.build_corpus(
            out,
            FLAGS.task,
            FLAGS.num_train,
            FLAGS.num_valid,
            FLAGS.num_test,
            FLAGS.seed,
            overwrite=FLAGS.overwrite,
            noisy_test=FLAGS.noisy_test,
        )
    print(path)


def _distributed():
    from w2v2jax.train import distributed

    distributed.initialize(FLAGS.coordinator_address, FLAGS.num_processes, FLAGS.process_id)


def cmd_train(args, objective="ctc"):
    from w2v2jax.train import loop

    _distributed()
    c = FLAGS.config
    if c is None:
        raise UsageError(f"--config=w2v2jax/configs/{objective}.py:tiny is required")
    if c.get("objective") != objective:
        command = "pretrain" if c.get("objective") == "pretrain" else "train"
        raise UsageError(
            f"the config's objective is {c.get('objective')!r}: run it with `w2v2jax {command}`"
        )
    if FLAGS.dry_run:
        return cmd_compile(args)
    summary = loop.run(c, _need("workdir"))
    shown = (
        ("cer", "wer", "per", "fer") if objective == "ctc" else ("loss", "accuracy", "perplexity")
    )
    for k in sorted(k for k, v in summary.items() if isinstance(v, float)):
        if k.endswith(shown):
            print(f"{k}\t{summary[k]:.4f}")


def cmd_pretrain(args):
    return cmd_train(args, objective="pretrain")


def cmd_compile(args):
    from w2v2jax.train import compile_report

    _distributed()
    if FLAGS.config is None:
        raise UsageError("--config=w2v2jax/configs/ctc.py:base is required")
    devices = compile_report.topology_devices(FLAGS.topology) if FLAGS.topology else None
    print(compile_report.report(FLAGS.config, FLAGS.seconds, devices))


def cmd_transcribe(args):
    from tqdm import tqdm

    from w2v2jax import transcribe_batch, transcript_formats
    from w2v2jax.inference import check_beam

    paths = list(args)
    if FLAGS.manifest:
        paths += transcribe_batch.read_manifest(FLAGS.manifest)
    if not paths:
        raise UsageError(
            "give one or more audio files: w2v2jax transcribe --workdir=DIR FILE... "
            "(or --manifest=LIST)"
        )
    check_beam(FLAGS.beam, "--beam")  # before minutes of loading, not after
    if FLAGS.batch_size < 0:
        raise UsageError(f"--batch_size={FLAGS.batch_size}: give files per batch, or 0 (auto)")
    writer = transcript_formats.Writer(
        FLAGS.output_format, FLAGS.output_dir, paths, FLAGS.timestamps
    )
    t = _transcriber("transcribe")
    failed = 0
    results = transcribe_batch.transcribe_files(
        t,
        paths,
        beam=FLAGS.beam,
        timestamps=writer.needs_times,
        batch_size=FLAGS.batch_size,
        strict=FLAGS.strict,
    )
    with _quiet_when_reader_leaves(), writer:
        for path, result in results:
            if isinstance(result, transcript_formats.Transcript):
                with tqdm.external_write_mode(file=sys.stdout):
                    writer.write(result)
                continue
            # One bad file must not cost the others: name it, go on, fail at the end.
            failed += 1
            reason = str(result) if path in str(result) else f"{path}: {result}"
            tqdm.write(f"w2v2jax transcribe: error: {reason}", file=sys.stderr)
    if writer.written:
        print(f"w2v2jax transcribe: wrote {_written(writer.written)}", file=sys.stderr)
    if failed:
        raise InputError(
            f"{failed} of {len(paths)} files could not be transcribed (each is named above); "
            "the others were"
        )


def _written(names: list[str]) -> str:
    if len(names) == 1:
        return names[0]
    return f"{len(names)} files in {os.path.dirname(names[0]) or '.'}"


def _transcriber(command):
    """The workdir's model; which checkpoint step it is goes to stderr (a fact the user
    needs when a workdir holds several)."""
    from w2v2jax.inference import Transcriber

    t = Transcriber(_need("workdir"))
    print(f"w2v2jax {command}: {t.workdir}: checkpoint step {t.step}", file=sys.stderr)
    return t


@contextlib.contextmanager
def _quiet_when_reader_leaves():
    """`w2v2jax transcribe ... | head -1`: when the reader closes the pipe, stop quietly as
    Unix tools do (status 141 = 128 + SIGPIPE), not with a BrokenPipeError traceback."""
    try:
        yield
    except BrokenPipeError:
        # Python flushes stdout again at exit; point it at /dev/null so that flush succeeds.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        raise SystemExit(141) from None


def cmd_align(args):
    from w2v2jax.data import audio

    if len(args) != 2:
        raise UsageError('usage: w2v2jax align --workdir=DIR [--ipa] FILE "TEXT"')
    t = _transcriber("align")
    t.encode(args[1], ipa=FLAGS.ipa)  # a transcript that cannot be aligned fails before the model
    lp = t.log_probs(audio.load_audio(args[0]))
    tokens, words = t.align(lp, args[1], ipa=FLAGS.ipa)
    with _quiet_when_reader_leaves():
        print(f"{'phone' if t.phonemes else 'token'}\tstart_s\tend_s")
        for sym, s, e in tokens:
            print(f"{sym}\t{s:.2f}\t{e:.2f}")
        print("word\tstart_s\tend_s")
        for w, s, e in words:
            print(f"{w}\t{s:.2f}\t{e:.2f}")
        sys.stdout.flush()  # inside: a reader that left must be seen here


def cmd_stream(args):
    from w2v2jax import stream_cli

    if len(args) != 1:
        raise UsageError(
            "usage: w2v2jax stream --workdir=DIR [--chunk_ms=N] [--as_fast_as_possible] FILE "
            "(or - for raw 16 kHz mono signed 16-bit little-endian PCM on stdin)"
        )
    workdir = _need("workdir")
    with _quiet_when_reader_leaves():
        stream_cli.run(
            workdir, args[0], chunk_ms=FLAGS.chunk_ms, realtime=not FLAGS.as_fast_as_possible
        )


def cmd_convert(args):
    from w2v2jax import convert
    from w2v2jax.convert.export import check_out_dir, write_workdir

    out = _need("out")
    if args or bool(FLAGS.from_hf) == bool(FLAGS.from_fairseq):
        raise UsageError(
            "usage: w2v2jax convert --from_hf=DIR --out=DIR, or --from_fairseq=FILE --out=DIR "
            "(one of the two, no other arguments)"
        )
    check_out_dir(out)  # before the conversion, which can take minutes
    if FLAGS.from_hf:
        cfg, params = convert.from_hf(FLAGS.from_hf)
        vocab = os.path.join(FLAGS.from_hf, "vocab.json")
    else:
        cfg, params = convert.from_fairseq(FLAGS.from_fairseq)
        vocab = None
    print(write_workdir(cfg, params, out, vocab if vocab and os.path.exists(vocab) else None))


def main(argv):
    from w2v2jax import compile_cache

    logging.set_verbosity(logging.WARNING)  # orbax and tfds log every step at INFO
    if len(argv) < 2 or argv[1] not in cli_help.COMMANDS:
        print(cli_help.overview(), file=sys.stderr)
        return 2
    compile_cache.enable()
    handler = globals()[f"cmd_{argv[1]}"]
    try:
        handler(argv[2:])
    except W2V2JaxError as e:
        # Ours carry the file/example and what to do; a traceback would bury that. Any
        # other exception is a bug (ours or a library's) and keeps its traceback.
        if os.environ.get("W2V2JAX_DEBUG"):
            raise
        logging.debug("error", exc_info=True)
        print(f"w2v2jax {argv[1]}: error: {e}", file=sys.stderr)
        return 1
    return 0


def _help(argv) -> str | None:
    """Our help text if argv asks for help (absl's own is a generic 3-line usage)."""
    if not any(a in ("--help", "-h", "--helpfull", "help") for a in argv[1:]):
        return None
    command = argv[1] if len(argv) > 1 and argv[1] in cli_help.COMMANDS else None
    return cli_help.command_help(command, FLAGS) if command else cli_help.overview()


def run():
    text = _help(sys.argv)
    if text is not None:
        print(text)
        sys.exit(0)
    allocator.reexec_with_tcmalloc()
    app.run(main, flags_parser=cli_args.parse_flags)


if __name__ == "__main__":
    run()
