"""Child process of ``embed_passages_parallel``: embeds one slice of texts.

Usage: ``python -m retrieval.embed_worker JOB.json`` where the job names the embedder
(``name``, ``threads``, ``model_path``, prefixes, ``native_dir``), the ``texts`` and the ``out`` .npy path.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

from retrieval.embed import make_embedder


def main(job_path: str) -> None:
    job = json.loads(Path(job_path).read_text(encoding="utf-8"))
    model_path = Path(job["model_path"]) if job.get("model_path") else None
    native_dir = Path(job["native_dir"]) if job.get("native_dir") else None
    embedder = make_embedder(job["name"], job["threads"], model_path,
                             job.get("query_prefix", ""), job.get("passage_prefix", ""),
                             native_dir)
    embedder.warm_up()
    np.save(job["out"], embedder.embed_passages(job["texts"]))


if __name__ == "__main__":
    main(sys.argv[1])
