"""Writing a dataset folder safely, with its facts recorded in its metadata as it is built.

`write_dataset(out_dir, make_builder, params)` builds in a hidden sibling folder and renames
it into place at the end, so an interrupted build leaves any existing dataset untouched; an
existing dataset built with other settings is never replaced unless overwrite=True, and one
built with the same settings is reused (its missing facts added, see `add_facts`). Nothing
else is ever replaced: not a folder without our metadata.json, not one holding other files
too, not one an input of the build lives in (`check_replaceable`).
"""

import json
import os
import re
import shutil
import uuid
from pathlib import Path
from typing import ClassVar

import tensorflow_datasets as tfds
from absl import logging
from tensorflow_datasets.core.utils import tqdm_utils

from w2v2jax.data import metadata, reader, schema
from w2v2jax.errors import DatasetExistsError


class SpeechBuilder(tfds.core.GeneratorBasedBuilder):
    """What the speech builders share; abstract, so TFDS does not register it."""

    VERSION = tfds.core.Version("1.0.0")
    RELEASE_NOTES: ClassVar[dict[str, str]] = {"1.0.0": "First version."}
    # TFDS would look for download checksums beside this file through importlib_resources
    # (not installed); nothing is downloaded, so there is nothing to look for.
    code_path = None

    def _info(self) -> tfds.core.DatasetInfo:
        return schema.speech_info(self, self.builder_config.params, self.__doc__)

    # TFDS prints "downloading ... prepared to <the temporary folder>": misleading here, as
    # write_dataset moves the result and logs the final path itself.
    def _log_download_bytes(self) -> None:
        pass

    def _log_download_done(self) -> None:
        pass


def record_facts(builder, split: str, examples):
    """Passes (key, example) through, noting each record's facts in the dataset metadata."""
    facts = metadata.SplitFacts()
    for key, ex in examples:
        facts.add(ex)
        yield key, ex
    facts.write_into(builder.info.metadata, split)


def write_dataset(out_dir, make_builder, params: dict, overwrite: bool = False, inputs=()) -> Path:
    """Builds with make_builder(tmp_data_dir) beside out_dir, then renames it into place.

    `inputs` are the paths the build reads (manifests, folders, audio files): a folder that
    holds any of them is never replaced, nor is one that is not a w2v2jax dataset.
    """
    out = Path(out_dir).absolute()
    params = json.loads(json.dumps(params))
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        check_replaceable(out, params, overwrite, inputs)
        if metadata.read_params(out) == params:
            logging.info("%s already holds this dataset; reusing it", out)
            add_facts(out)
            return out
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.parent / f".{out.name}.building-{uuid.uuid4().hex[:8]}"
    shown = getattr(tqdm_utils, "_active", True)
    tfds.display_progress_bar(False)  # our own bar counts utterances instead
    try:
        builder = make_builder(str(tmp))
        builder.download_and_prepare(file_format="array_record")
        old = out.parent / f".{out.name}.old-{uuid.uuid4().hex[:8]}"
        if out.exists():
            out.rename(old)
        try:
            Path(builder.data_dir).rename(out)
        except BaseException:
            if old.exists() and not out.exists():
                old.rename(out)  # interrupted between the two renames: put the old data back
            raise
        shutil.rmtree(old, ignore_errors=True)
    finally:
        tfds.display_progress_bar(shown)
        shutil.rmtree(tmp, ignore_errors=True)
    logging.info("wrote %s", out)
    return out


# What a dataset folder of ours holds: tfds's files, our metadata (and its temp file, left
# by a kill during add_facts). Anything else is the user's, and --overwrite would delete it.
_OWN_FILE = re.compile(
    r"(dataset_info|features|metadata)\.json|\.metadata\.json\.\w+|.+\.array_record-\d+-of-\d+"
)


def check_replaceable(out: Path, params: dict, overwrite: bool, inputs) -> None:
    """Raises DatasetExistsError unless the non-empty `out` may be reused or replaced."""
    found = metadata.read_params(out) if out.is_dir() else None
    if found == params:
        return  # reused as it is: nothing is deleted
    held = _input_inside(out, inputs)
    if held is not None:
        raise DatasetExistsError(
            f"{out} is or holds an input of this build ({held}), so it is never replaced; write "
            f"the dataset to a folder of its own (e.g. --out={out}-dataset); nothing was changed"
        )
    if not found or not isinstance(found, dict):
        what = "is a file" if not out.is_dir() else "holds files but no w2v2jax dataset"
        raise DatasetExistsError(
            f"{out} {what} (no metadata.json with build settings), so it is never replaced; "
            "choose a new or empty output folder (--out); nothing was changed"
        )
    if not overwrite:
        raise DatasetExistsError(
            f"{out} already holds a dataset built with {found}; requested {params}. Choose "
            "another output folder (--out) or pass --overwrite (overwrite=True) to replace it"
        )
    others = sorted(p.name for p in out.iterdir() if not _OWN_FILE.fullmatch(p.name))
    if others:
        raise DatasetExistsError(
            f"{out} holds a dataset and also files of yours ({', '.join(others[:3])}"
            f"{', ...' if len(others) > 3 else ''}), which --overwrite would delete; move them "
            "out of it or choose another output folder (--out); nothing was changed"
        )


def _input_inside(out: Path, inputs) -> str | None:
    """The first input path that is `out` or lies inside it (symlinks followed), if any."""
    root = os.path.realpath(out)
    for path in inputs:
        real = os.path.realpath(path)
        if real == root or real.startswith(root.rstrip(os.sep) + os.sep):
            return os.fspath(path)
    return None


def add_facts(path: str | os.PathLike) -> bool:
    """Records the facts a dataset built before they existed lacks, reading its records once.

    The records are untouched; metadata.json is replaced whole (temp file + rename), so an
    interruption leaves the old one. Returns whether anything was added.
    """
    meta = metadata.read(path)
    if metadata.has_facts(meta):
        return False
    logging.info("%s: recording its lengths, voice groups and symbols in metadata.json", path)
    meta.update(num_samples={}, voice_groups={}, symbols={k: [] for k in metadata.LABEL_FIELDS})
    for split in reader.split_names(path):
        src, facts = reader.load_split(path, split), metadata.SplitFacts()
        for i in range(len(src)):
            facts.add(src[i])
        facts.write_into(meta, split)
    tmp = Path(path) / f".metadata.json.{uuid.uuid4().hex[:8]}"
    try:
        tmp.write_text(json.dumps(meta), encoding="utf-8")
        os.replace(tmp, metadata.path_of(path))
    except OSError as e:  # e.g. a read-only copy: readers still work, reading the records
        logging.warning("could not record the facts of %s (%s)", path, e)
        return False
    finally:
        tmp.unlink(missing_ok=True)
    return True
