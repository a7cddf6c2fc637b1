"""Public sequential-recommendation datasets the recsys plug-in knows.

``DATASETS`` maps a name to its files (paths under the data directory, as in a local mirror):

* Beauty, Sports, Toys (Amazon review data, 5-core) and Yelp as preprocessed for S3-Rec and released again
  with ICLRec: one line per user, ``user item item ...`` in time order, ids from 1. URLs are pinned to a
  commit of github.com/salesforce/ICLRec. Beauty's sha256 is that of the copy in the project's shared data,
  which has the release's size (1,090,094 bytes) and the same first and last lines; the other sizes are the
  release's, their checksums are not pinned.
* MovieLens-1M, the GroupLens archive (``ratings.dat``: ``user::item::rating::timestamp``), read from inside
  the zip; no checksum is pinned.

``FORMATS`` gives the reader format of each; ``DEFAULTS`` the k-core each is used with (0 = as released).
"""

from __future__ import annotations

from ssmkit.data import DatasetEntry, RemoteFile

ICLREC_HOME = "https://github.com/salesforce/ICLRec"
ICLREC_RAW = "https://raw.githubusercontent.com/salesforce/ICLRec/4afb54a036ebbf4166ed5858122d89c0642251a7/data"
AMAZON = ("McAuley, J., Targett, C., Shi, Q., van den Hengel, A. Image-based recommendations on styles and "
          "substitutes. SIGIR 2015; He, R., McAuley, J. Ups and downs: modeling the visual evolution of fashion "
          "trends with one-class collaborative filtering. WWW 2016")
PREPROCESSING = ("; preprocessing: Zhou, K. et al. S3-Rec: Self-supervised learning for sequential recommendation "
                 "with mutual information maximization. CIKM 2020; Chen, Y. et al. Intent contrastive learning for "
                 "sequential recommendation (ICLRec). WWW 2022")
AMAZON_LICENCE = ("Amazon review data (jmcauley.ucsd.edu/data/amazon): research use only; the ICLRec repository "
                  "is BSD-3-Clause")
YELP_LICENCE = "Yelp Open Dataset terms of use (non-commercial, academic use); the ICLRec repository is BSD-3-Clause"
ML_HOME = "https://grouplens.org/datasets/movielens/1m/"
ML_CITATION = ("Harper, F. M., Konstan, J. A. The MovieLens datasets: history and context. ACM TiiS 5(4), 19 "
               "(2015). doi:10.1145/2827872")
ML_LICENCE = ("GroupLens MovieLens usage licence: research use, no redistribution without permission, cite the "
              "paper (see README.txt in the archive)")

# (sha256, size in bytes); sha256 only where checked against a copy of exactly that file
_CHECKS = {
    "Beauty.txt": ("226cce9c3105299ca0db9615d7d3fb32b3175e90da43100ae352599f0f0107b8", 1_090_094),
    "Sports_and_Outdoors.txt": (None, 1_707_483),
    "Toys_and_Games.txt": (None, 922_166),
    "Yelp.txt": (None, 1_814_224),
}


def _iclrec(file: str, description: str, licence: str = AMAZON_LICENCE, citation: str = AMAZON) -> DatasetEntry:
    sha256, size = _CHECKS[file]
    return DatasetEntry(
        files=(RemoteFile(f"recsys/{file}", url=f"{ICLREC_RAW}/{file}", sha256=sha256, size=size),),
        description=description + " One line per user: 'user item item ...' in time order (ids from 1).",
        licence=licence,
        citation=citation + PREPROCESSING,
        homepage=ICLREC_HOME,
    )


DATASETS: dict[str, DatasetEntry] = {
    "Beauty": _iclrec("Beauty.txt", "Amazon Beauty reviews as user histories, 5-core: 22,363 users, 12,101 "
                                    "items, 198,502 interactions."),
    "Sports": _iclrec("Sports_and_Outdoors.txt", "Amazon Sports and Outdoors reviews as user histories, 5-core: "
                                                 "35,598 users, 18,357 items, 296,337 interactions."),
    "Toys": _iclrec("Toys_and_Games.txt", "Amazon Toys and Games reviews as user histories, 5-core: 19,412 "
                                          "users, 11,924 items, 167,597 interactions."),
    "Yelp": _iclrec("Yelp.txt", "Yelp business reviews (2019 onwards) as user histories, 5-core: 30,431 users, "
                                "20,033 businesses, 316,354 interactions.",
                    licence=YELP_LICENCE, citation="Yelp Open Dataset, https://www.yelp.com/dataset"),
    "MovieLens-1M": DatasetEntry(
        files=(RemoteFile("recsys/ml-1m.zip", url="https://files.grouplens.org/datasets/movielens/ml-1m.zip"),),
        description=("MovieLens 1M: 1,000,209 ratings of 3,706 movies by 6,040 users (2000-2003), each user with "
                     "at least 20 ratings; ratings.dat inside the zip ('user::movie::rating::timestamp'), ordered "
                     "by timestamp per user, ties in file order."),
        licence=ML_LICENCE,
        citation=ML_CITATION,
        homepage=ML_HOME,
    ),
}

FORMATS: dict[str, str] = {"Beauty": "lines", "Sports": "lines", "Toys": "lines", "Yelp": "lines",
                           "MovieLens-1M": "movielens"}
DEFAULTS: dict[str, dict] = {name: {"k_core": 0} for name in DATASETS}

__all__ = ["DATASETS", "FORMATS", "DEFAULTS"]
