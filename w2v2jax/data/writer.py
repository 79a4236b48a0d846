"""Writing a dataset folder safely, with its facts recorded in its metadata as it is built.

`write_dataset(out_dir, make_builder, params)` builds in a hidden sibling folder and renames
it into place at the end, so an interrupted build leaves any existing dataset untouched; an
existing dataset built with other settings is never replaced unless overwrite=True, and one
built with the same settings is reused (its missing facts added, see `add_facts`).
"""

import json
import os
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


def write_dataset(out_dir, make_builder, params: dict, overwrite: bool = False) -> Path:
    """Builds with make_builder(tmp_data_dir) beside out_dir, then renames it into place."""
    out = Path(out_dir).absolute()
    params = json.loads(json.dumps(params))
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        if metadata.read_params(out) == params:
            logging.info("%s already holds this dataset; reusing it", out)
            add_facts(out)
            return out
        if not overwrite:
            found = metadata.read_params(out)
            raise DatasetExistsError(
                f"{out} already holds {'a dataset built with ' + str(found) if found else 'files'}"
                f"; requested {params}. Choose another folder or pass overwrite=True "
                "(--overwrite) to replace it."
            )
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
