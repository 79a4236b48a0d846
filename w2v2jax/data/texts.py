"""Transcripts for the synthesized tasks, drawn from a seeded numpy Generator.

`digits`: digit strings ("three one four") and short command phrases ("go left").
`words`: short sentences of common English words (a small closed vocabulary, so a tiny model
can learn it in minutes but must still spell words it has heard in new orders).
Held-out splits draw texts disjoint from train (see `draw_texts`).
"""

import numpy as np

from w2v2jax.errors import UsageError

DIGITS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
COMMANDS = ("yes", "no", "up", "down", "left", "right", "on", "off", "stop", "go")

_WORD_LIST = """
a about after again air all also always an and animal another answer any are around as ask
at away back bad be because been before began being below best better between big bird black
blue boat body book both boy bring brother brown but by call came can car carry cat change
child children city close cold come could country cut day did different do does dog done
door down draw each early earth eat end enough even ever every eye face fall family far farm
fast father feel few field find fire first fish five food for found four friend from full
game gave get girl give go good got great green grow had half hand happy hard has have he
head hear help her here high him his hold home horse hot house how i idea if important in
into is it just keep kind king know land large last late learn leave left let letter life
light like line list little live long look made make man many may me mean men might mile
money more morning most mother move much music must my name near need never new next night
no north not now number of off often old on once one only open or other our out over own
page paper part people picture place plant play point put question quick quickly rain ran
read real red right river road rock room run said same saw say school sea second see seem
sentence set she ship short should show side simple sing sister sit small snow so some song
soon sound south spell stand start state stay still stop story street strong study such sun
sure table take talk tell than that the their them then there these they thing think this
those thought three through time to today together told too took top tree try turn two under
until up us use very voice walk want warm was watch water way we well went were what when
where which while white who why will wind window with word work world would write year yes
you young your
"""
WORDS = tuple(_WORD_LIST.split())


def digits_text(rng: np.random.Generator) -> str:
    """Three quarters digit strings of 1-7 digits, one quarter phrases of 1-3 commands."""
    if rng.random() < 0.75:
        return " ".join(DIGITS[i] for i in rng.integers(0, 10, size=rng.integers(1, 8)))
    return " ".join(COMMANDS[i] for i in rng.integers(0, 10, size=rng.integers(1, 4)))


def words_text(rng: np.random.Generator) -> str:
    """A sentence of 3-8 words from WORDS."""
    return " ".join(WORDS[i] for i in rng.integers(0, len(WORDS), size=rng.integers(3, 9)))


TASKS = {"digits": digits_text, "words": words_text}


def get_task(task: str):
    if task not in TASKS:
        raise UsageError(f"unknown task {task!r}; choose one of {sorted(TASKS)}")
    return TASKS[task]


def draw_texts(
    task: str,
    n: int,
    rng: np.random.Generator,
    exclude: set[str] = frozenset(),
    max_tries: int = 1000,
) -> list[str]:
    """n texts, none in `exclude` (repeats allowed among themselves).

    Held-out splits pass the train texts as `exclude`, so they test generalisation to new
    strings rather than memorised ones; raises if the task cannot supply enough new texts.
    """
    make = get_task(task)
    texts = []
    for _ in range(n):
        for _ in range(max_tries):
            text = make(rng)
            if text not in exclude:
                break
        else:
            raise ValueError(
                f"task {task!r}: could not find a text outside the {len(exclude)} "
                "excluded ones; ask for fewer utterances"
            )
        texts.append(text)
    return texts
