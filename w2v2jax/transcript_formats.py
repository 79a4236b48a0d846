"""How `w2v2jax transcribe` writes its transcripts: tsv, JSON Lines or SRT subtitles.

    writer = open_writer("json", output_dir=None, paths=paths, timestamps=True)
    with writer:
        writer.write(Transcript("a.wav", "three one", 1.2, tokens=[...], words=[...], index=0))

tsv (the default): `path<TAB>text[<TAB>timestamps]`, one line per file; with timestamps,
the words as `word[start-end]` (a phoneme model's phones) and no third column for an empty
text. json: one JSON object per line (JSON Lines), `{"path", "text", "seconds"}` and, with
timestamps, `"words"` and `"tokens"` (`"phones"` for a phoneme model), each a list of
`{"word"|"token"|"phone", "start", "end"}` in seconds. Both go to stdout, or with
`output_dir` to DIR/transcripts.tsv or DIR/transcripts.jsonl.

srt: subtitle cues of whole words (see `srt_cues`). With `output_dir`, one DIR/NAME.srt
per file, NAME the file's name without its extension (a second file of the same name
gets NAME-2.srt, in input order); without it, only one file may be given and its cues go
to stdout. A file that fails writes nothing.
"""

import dataclasses
import json
import os
import sys

from w2v2jax import files
from w2v2jax.errors import UsageError

FORMATS = ("tsv", "json", "srt")
CUE_MAX_WORDS = 12  # a subtitle line a reader takes in at a glance
CUE_MAX_SECONDS = 6.0
CUE_GAP_SECONDS = 1.0  # a pause this long starts a new cue


@dataclasses.dataclass
class Transcript:
    """One file's result; tokens as (symbol, start, end), words as (word, start, end);
    index: its place in the input list."""

    path: str
    text: str
    seconds: float
    tokens: list | None = None
    words: list | None = None
    phonemes: bool = False
    index: int = 0


def tsv_line(t: Transcript, timestamps: bool) -> str:
    line = f"{t.path}\t{t.text}"
    if timestamps and t.text.strip():
        # A phoneme model's text is its own IPA; its token rows are the phones.
        shown = t.tokens if t.phonemes else t.words
        line += "\t" + " ".join(f"{w}[{s:.2f}-{e:.2f}]" for w, s, e in shown)
    return line


def json_line(t: Transcript, timestamps: bool) -> str:
    obj = {"path": t.path, "text": t.text, "seconds": round(t.seconds, 3)}
    if timestamps:
        unit = "phone" if t.phonemes else "token"
        obj["words"] = _spans(t.words or [], "word")
        obj[unit + "s"] = _spans(t.tokens or [], unit)
    return json.dumps(obj, ensure_ascii=False)


def _spans(rows, key: str) -> list[dict]:
    # Frame times are multiples of 20 ms; rounding drops the float noise of s * 0.02.
    return [{key: w, "start": round(s, 3), "end": round(e, 3)} for w, s, e in rows]


def srt_cues(words) -> list[tuple[float, float, str]]:
    """(start, end, text) cues of consecutive words: a new cue after CUE_MAX_WORDS words,
    when it would pass CUE_MAX_SECONDS, or after a pause of CUE_GAP_SECONDS."""
    cues, current = [], []
    for w, s, e in words:
        if current and (
            len(current) >= CUE_MAX_WORDS
            or e - current[0][1] > CUE_MAX_SECONDS
            or s - current[-1][2] >= CUE_GAP_SECONDS
        ):
            cues.append(current)
            current = []
        current.append((w, s, e))
    if current:
        cues.append(current)
    return [(c[0][1], c[-1][2], " ".join(w for w, _, _ in c)) for c in cues]


def srt_time(seconds: float) -> str:
    ms = round(seconds * 1000)
    return f"{ms // 3_600_000:02d}:{ms // 60_000 % 60:02d}:{ms // 1000 % 60:02d},{ms % 1000:03d}"


def srt_text(t: Transcript) -> str:
    """The file's SRT document ("" for a file with no words)."""
    blocks = [
        f"{n}\n{srt_time(s)} --> {srt_time(e)}\n{text}\n"
        for n, (s, e, text) in enumerate(srt_cues(t.words or []), 1)
    ]
    return "\n".join(blocks)


def srt_names(paths: list[str]) -> list[str]:
    """Each path's .srt name in output_dir: its stem, then -2, -3, ... when taken."""
    taken, out = set(), []
    for p in paths:
        stem = os.path.splitext(os.path.basename(p))[0] or "audio"
        name, n = f"{stem}.srt", 1
        while name in taken:
            n += 1
            name = f"{stem}-{n}.srt"
        taken.add(name)
        out.append(name)
    return out


class Writer:
    """Writes each Transcript as it comes; a context manager that closes its file."""

    def __init__(self, fmt: str, output_dir: str | None, paths: list[str], timestamps: bool):
        if fmt not in FORMATS:
            raise UsageError(f"--output_format={fmt}: choose one of {', '.join(FORMATS)}")
        if fmt == "srt" and not output_dir and len(paths) > 1:
            raise UsageError(
                f"--output_format=srt with {len(paths)} files needs --output_dir=DIR, which "
                "gets one NAME.srt per file (without it, give one file: its cues go to stdout)"
            )
        self.fmt, self.output_dir, self.timestamps = fmt, output_dir, timestamps
        self.srt_names = srt_names(paths) if output_dir else []
        self.out, self.written = sys.stdout, []
        if output_dir:
            try:
                os.makedirs(output_dir, exist_ok=True)
            except OSError as e:
                raise UsageError(f"--output_dir={output_dir}: cannot create it ({e})") from None
            if fmt != "srt":
                name = "transcripts.tsv" if fmt == "tsv" else "transcripts.jsonl"
                self.out = open(os.path.join(output_dir, name), "w", encoding="utf-8")  # noqa: SIM115
                self.written.append(self.out.name)

    @property
    def needs_times(self) -> bool:
        """Whether the transcripts must carry word times (SRT cues do, always)."""
        return self.timestamps or self.fmt == "srt"

    def write(self, t: Transcript) -> None:
        if self.fmt == "srt" and self.output_dir:
            path = os.path.join(self.output_dir, self.srt_names[t.index])
            files.write_text(path, srt_text(t))
            self.written.append(path)
            return
        if self.fmt == "tsv":
            text = tsv_line(t, self.timestamps) + "\n"
        elif self.fmt == "json":
            text = json_line(t, self.timestamps) + "\n"
        else:
            text = srt_text(t)
        self.out.write(text)
        self.out.flush()  # a reader (`| head`, a pipeline) sees each file as it is done

    def close(self) -> None:
        if self.out is not sys.stdout:
            self.out.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
