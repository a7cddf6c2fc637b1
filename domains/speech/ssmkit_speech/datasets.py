"""Public spoken-word datasets the speech plug-in knows.

* ``fsdd``: the Free Spoken Digit Dataset, the 2,500 recordings of its five speakers george, jackson, lucas,
  nicolas and theo (50 of each digit each), 8 kHz mono WAV named ``{digit}_{speaker}_{index}.wav``, laid out
  flat as ``speech/fsdd/<file>`` like the project's shared mirror. Each file is fetched from the
  repository's v1.0.9 tag (raw URLs); no per-file sha256 is declared (``ssmkit data verify`` reports them
  "unchecked").
* ``speech_commands``: Speech Commands v0.02 (35 words, 16 kHz, 1 s clips; 105,829 utterances), as its
  release archive ``speech/speech_commands_v0.02.tar.gz`` (size and sha256 from TensorFlow Datasets'
  checksum list). ssmkit does not unpack archives: extract it into ``speech/speech_commands/`` and read
  that folder with ``layout='speech_commands'``.

``FSDD_SPEAKERS`` and ``FSDD_FILES`` describe the FSDD subset.
"""

from __future__ import annotations

from ssmkit.data import DatasetEntry, RemoteFile

FSDD_HOME = "https://github.com/Jakobovski/free-spoken-digit-dataset"
FSDD_RAW = "https://raw.githubusercontent.com/Jakobovski/free-spoken-digit-dataset/v1.0.9/recordings"
FSDD_CITATION = ("Jackson, Z., Souza, C., Flaks, J., Pan, Y., Nicolas, H., Thite, A. Jakobovski/free-spoken-digit-"
                 "dataset: v1.0.8. Zenodo (2018). doi:10.5281/zenodo.1342401")
FSDD_SPEAKERS = ("george", "jackson", "lucas", "nicolas", "theo")
FSDD_FILES = tuple(f"{digit}_{speaker}_{index}.wav" for speaker in FSDD_SPEAKERS for digit in range(10)
                   for index in range(50))

SC_HOME = "https://www.tensorflow.org/datasets/catalog/speech_commands"
SC_URL = "http://download.tensorflow.org/data/speech_commands_v0.02.tar.gz"
SC_CITATION = ("Warden, P. Speech Commands: A Dataset for Limited-Vocabulary Speech Recognition. "
               "arXiv:1804.03209 (2018)")

DATASETS: dict[str, DatasetEntry] = {
    "fsdd": DatasetEntry(
        files=tuple(RemoteFile(f"speech/fsdd/{name}", url=f"{FSDD_RAW}/{name}") for name in FSDD_FILES),
        description="Free Spoken Digit Dataset: 2,500 recordings of the digits 0-9 by 5 English speakers, 8 kHz "
                    "mono WAV, {digit}_{speaker}_{index}.wav. Usual split: recordings 0-4 of each speaker and "
                    "digit are the test set; speaker-independent results hold out whole speakers.",
        licence="CC BY-SA 4.0",
        citation=FSDD_CITATION,
        homepage=FSDD_HOME,
    ),
    "speech_commands": DatasetEntry(
        files=(RemoteFile("speech/speech_commands_v0.02.tar.gz", url=SC_URL,
                          sha256="af14739ee7dc311471de98f5f9d2c9191b18aedfe957f4a6ff791c709868ff58",
                          size=2_428_923_189),),
        description="Speech Commands v0.02: 105,829 one-second 16 kHz utterances of 35 words by 2,618 speakers, "
                    "word folders plus validation_list.txt / testing_list.txt. Fetched as the release archive; "
                    "extract it to speech/speech_commands/ and use layout='speech_commands'.",
        licence="CC BY 4.0",
        citation=SC_CITATION,
        homepage=SC_HOME,
    ),
}

__all__ = ["DATASETS", "FSDD_FILES", "FSDD_SPEAKERS"]
