"""Download the recorded RouteLLM eval data into a local cache on first use.

Nothing is fetched at import time. `ensure_data` fetches only the files that are
missing from the cache or fail their SHA-256 check, so later calls make no
network requests.
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import IO

import requests
from tqdm import tqdm

from hybrid.errors import DataError, InputError

__all__ = [
    "BASE_URL_ENV",
    "CACHE_DIR_ENV",
    "DEFAULT_BASE_URL",
    "DEFAULT_CACHE_DIR",
    "DEFAULT_FILES",
    "GSM8K_FILES",
    "MMLU_DOMAINS",
    "MMLU_FILES",
    "MT_BENCH_FILES",
    "SHA256",
    "ensure_data",
    "resolve_cache_dir",
    "sha256_of",
]

logger = logging.getLogger(__name__)

DEFAULT_BASE_URL = "https://raw.githubusercontent.com/lm-sys/RouteLLM/main/routellm/evals"
BASE_URL_ENV = "HYBRID_DATA_URL"
CACHE_DIR_ENV = "HYBRID_CACHE_DIR"
DEFAULT_CACHE_DIR = Path("~/.cache/hybrid/routellm-evals")

CONNECT_TIMEOUT_S = 10.0
READ_TIMEOUT_S = 60.0
CHUNK_BYTES = 64 * 1024

GSM8K_FILES: tuple[str, ...] = (
    "gsm8k/gsm8k_responses.csv",
    "gsm8k/contaminated_prompts.jsonl",
)
MT_BENCH_FILES: tuple[str, ...] = (
    "mt_bench/question.jsonl",
    "mt_bench/judgements.jsonl",
    "mt_bench/contaminated_prompts.jsonl",
)

# The default set leaves MMLU out: its 57 CSV files carry no answer text, and
# GSM8K plus MT-Bench are enough for replay.
DEFAULT_FILES: tuple[str, ...] = GSM8K_FILES + MT_BENCH_FILES

MMLU_DOMAINS: tuple[str, ...] = (
    "abstract_algebra",
    "anatomy",
    "astronomy",
    "business_ethics",
    "clinical_knowledge",
    "college_biology",
    "college_chemistry",
    "college_computer_science",
    "college_mathematics",
    "college_medicine",
    "college_physics",
    "computer_security",
    "conceptual_physics",
    "econometrics",
    "electrical_engineering",
    "elementary_mathematics",
    "formal_logic",
    "global_facts",
    "high_school_biology",
    "high_school_chemistry",
    "high_school_computer_science",
    "high_school_european_history",
    "high_school_geography",
    "high_school_government_and_politics",
    "high_school_macroeconomics",
    "high_school_mathematics",
    "high_school_microeconomics",
    "high_school_physics",
    "high_school_psychology",
    "high_school_statistics",
    "high_school_us_history",
    "high_school_world_history",
    "human_aging",
    "human_sexuality",
    "international_law",
    "jurisprudence",
    "logical_fallacies",
    "machine_learning",
    "management",
    "marketing",
    "medical_genetics",
    "miscellaneous",
    "moral_disputes",
    "moral_scenarios",
    "nutrition",
    "philosophy",
    "prehistory",
    "professional_accounting",
    "professional_law",
    "professional_medicine",
    "professional_psychology",
    "public_relations",
    "security_studies",
    "sociology",
    "us_foreign_policy",
    "virology",
    "world_religions",
)
MMLU_FILES: tuple[str, ...] = ("mmlu/contaminated_prompts.jsonl",) + tuple(
    f"mmlu/mmlu_{domain}.csv" for domain in MMLU_DOMAINS
)

# Keys are paths inside the local cache. Upstream keeps the MMLU CSV files one
# level deeper, in mmlu/responses/ (see `_remote_path`).
# NOTE: these digests were computed from a copy of the upstream files taken from
# the main branch at a commit that the copy did not record. They were not
# re-checked against the live host, so an upstream edit shows up as a checksum
# error.
SHA256: dict[str, str] = {
    "gsm8k/gsm8k_responses.csv": "1f38ed03db354a020f71e92022383dc3cf37bbf2694dea4daaeea7b6c43fe57b",
    "gsm8k/contaminated_prompts.jsonl": "1f5a7be02148ee0f7f306d233ba76a6573c826cee9499a34f8ef938a1a84c234",
    "mt_bench/question.jsonl": "119565adbab82227089cefdb44c8d7e2cf04dc0a0ec233634c82e7d4e2a944f7",
    "mt_bench/judgements.jsonl": "ffd1d44e7af835c810d35ebd420b88a47acd8aac850f46b149b9889964ae4478",
    "mt_bench/contaminated_prompts.jsonl": "a77356ecd7cab6ba9bfb6d7b91c512f83aee4f82309934387a6cdfb915882109",
    "mmlu/contaminated_prompts.jsonl": "9606c968198eabf5efa46ccba31286392c8e35525d83c86661618ffc5ec6d40e",
    "mmlu/mmlu_abstract_algebra.csv": "67e564eea42e71fbfcaf616972df952c316e5538376da1c16d691177458b96b9",
    "mmlu/mmlu_anatomy.csv": "53ebea8257805eeecc25713728264b8235cffad7b720962a3eafc92fd27ef537",
    "mmlu/mmlu_astronomy.csv": "49915ece9dfe8aadbd351f221ada2ea86b6f832ce49fa64d1622a0f066c19794",
    "mmlu/mmlu_business_ethics.csv": "13a45bed754ffe8f0e7f0348e69085c648a1ae0e91aa76cd5e6906fa45f7ec8e",
    "mmlu/mmlu_clinical_knowledge.csv": "5ea37709bfbad4df7a3fcbd8973413f7645a2adfef9772490f09d3f293ffe882",
    "mmlu/mmlu_college_biology.csv": "c38620db5b9f6f1b0fde7bc8d8299b8e2305c4dacbb1567c904cd51618d627d5",
    "mmlu/mmlu_college_chemistry.csv": "78ca6ba22ff25c8fdb93e1c6e84384e72522106c73ed5ee9fed620928ce395ce",
    "mmlu/mmlu_college_computer_science.csv": "8a7b2a87a36b428c9d1a8f12ce3b01cf7920f0a7146d6f8a111da6749c332da3",
    "mmlu/mmlu_college_mathematics.csv": "3f22f42779c48509c66e21d7d1fc3054eb0256c1b5b772bb6d9a3af1b253238b",
    "mmlu/mmlu_college_medicine.csv": "63d71d29e630fc6538e1705a51f4267bdbbdea0fa7ee85056ad7d6f8f10d3987",
    "mmlu/mmlu_college_physics.csv": "8162a0660d4ef7b963088e0a176d4b8630096127a0d0b5ed003f649cbad34455",
    "mmlu/mmlu_computer_security.csv": "26446faf7460f03aa2d82a05c170faedb5cbf6d7bdda133b1146229107097d1c",
    "mmlu/mmlu_conceptual_physics.csv": "ea40473704b64cb60d564ffe91962848ec6fc3106b40089d08cebc98d5c7226d",
    "mmlu/mmlu_econometrics.csv": "927b4d877cec8697f3b8378bb7e7c7a279babaea2edacf350ea50908701907b9",
    "mmlu/mmlu_electrical_engineering.csv": "de2fb7c2e9addb4808f5b3f7c79efbfdfb86216235bb7dc28ab70bc53664f11e",
    "mmlu/mmlu_elementary_mathematics.csv": "88697ff0d238b5852c7a959379dc8b0b45c3554ed4b2ee7cbb7ffc34e06c7cf5",
    "mmlu/mmlu_formal_logic.csv": "094a462626468569ad595c03e66e73a299188cfa175248b499dba94e005506e6",
    "mmlu/mmlu_global_facts.csv": "6f75ddf7d6eb94ac0471529a85ff7f8b738c9f4055185b3114eed26393222d06",
    "mmlu/mmlu_high_school_biology.csv": "444982fc2c750ab8cbc6942a0c0267040aa5023c1d2364247d20e2a28b4e325d",
    "mmlu/mmlu_high_school_chemistry.csv": "ae5e62479365dcd056354c568f60da65b1df9f1de57dda3953a8e9933a6f12e4",
    "mmlu/mmlu_high_school_computer_science.csv": "d156d9448a6e899f7f976a0afac148a928bf709a2baa573f0c407854a25bdb11",
    "mmlu/mmlu_high_school_european_history.csv": "c64afd6c5e30ef0cd5c10beab961ac05e7ba55d6b48cd93bf6ad0a45f90515bf",
    "mmlu/mmlu_high_school_geography.csv": "21b12044be4a6b9813880ad46372006dc0846e7f85fa46883bb73dbd90fba30a",
    "mmlu/mmlu_high_school_government_and_politics.csv": "2791689acc61775a5857f4f3a5fd248d30552553c3a96f6ee63dc28285437259",
    "mmlu/mmlu_high_school_macroeconomics.csv": "73b931a2a06ba74a5c9f1e005d45a25004e36be5d075d98f8ebcf89b3fda367b",
    "mmlu/mmlu_high_school_mathematics.csv": "151b2a736981b7b20f3bad99de6a573e4692d68cf87020e943b601b70bb37390",
    "mmlu/mmlu_high_school_microeconomics.csv": "f7ea151efb4c9d96374db3358ac7e97e4d8349e26715f61dac98bc9d854ca046",
    "mmlu/mmlu_high_school_physics.csv": "1e2103fc8f7f1cfac7c00952b26db2418acab092486af78a9c51c551ae2ff9be",
    "mmlu/mmlu_high_school_psychology.csv": "d11604f2c7a2425258d5b9a285ef71737c011cc3a91456890f088a0ee4c55212",
    "mmlu/mmlu_high_school_statistics.csv": "de6642bcd93d7a80e7bbd73d987a44d67b6e537b47749ddc518122fd582703bb",
    "mmlu/mmlu_high_school_us_history.csv": "a71186d143363e203b2f216d78c9d21f10cca51de455ef176c9c01b77f546592",
    "mmlu/mmlu_high_school_world_history.csv": "e9c52305977dc37b3e48eee727ad933b2d24d96ca3a06aec865a8900b1e87d2c",
    "mmlu/mmlu_human_aging.csv": "0d6c4109b4f61f138781ce50bbc60ff2e90dd451694d3926a088be5a5bd88aa8",
    "mmlu/mmlu_human_sexuality.csv": "20916037e3012731883f926738daf47ed994f74ba25518fdb7f0df72a81143fd",
    "mmlu/mmlu_international_law.csv": "e389b886e3e1570bfdf798f6f56dc3c675350200c5baf0f41a0766294ff312eb",
    "mmlu/mmlu_jurisprudence.csv": "7e94c3849231be7b2654db11e44ee51531f8474e300fe83b1e05438df3038f0b",
    "mmlu/mmlu_logical_fallacies.csv": "fa2d94cd2e901621aaebd0a7e64560b5dbbe4249086795398533eed2561c0c1e",
    "mmlu/mmlu_machine_learning.csv": "9301e928481be6e20b3541e1ac112b25a4a71338b21592978c0d219cb6240020",
    "mmlu/mmlu_management.csv": "a00b12ab0265918f9335a85ce02303ddaea0491a7b099f88a05986eeac4aa4fb",
    "mmlu/mmlu_marketing.csv": "3ee0b6560ebe0eb4f14ce63227d6f6ec8cb8b6e57e345eae9460be742672f36c",
    "mmlu/mmlu_medical_genetics.csv": "7c830f87dcbc0029137b3400cf361931831cb57dda55717a64e72ad74663d5df",
    "mmlu/mmlu_miscellaneous.csv": "c2e1a5b0394a8429f55b6340e1865166ac17ec6b3571523005e413b3b2843b9f",
    "mmlu/mmlu_moral_disputes.csv": "8b2b973b1987b724f39fd10970604d7f1150747a0db9ce766c193bd978c9d0c4",
    "mmlu/mmlu_moral_scenarios.csv": "78ded6fdca1cd0d5c4ed16a5ed4aebf2e98401b9c00b20e565e6cce5bf1153c7",
    "mmlu/mmlu_nutrition.csv": "ba197fbf4b6c5034414d66ea7747211056cf5f709f83d919d2d856245720cc51",
    "mmlu/mmlu_philosophy.csv": "2f30ad01ab529ddea00dff4ff87e950fef838a78754c94f6884120628a7d0591",
    "mmlu/mmlu_prehistory.csv": "afc816d4b78814627bae9b8c3730a9bb72bd958ff6259fd36c981777cfe83753",
    "mmlu/mmlu_professional_accounting.csv": "fe5ee976a625832ecf624086103619523d063a3a728c60681b6a53c55b638a37",
    "mmlu/mmlu_professional_law.csv": "60a4308df4f481ff8840590b29061835207b50a9f06a9fc68baf12b114f7e2e0",
    "mmlu/mmlu_professional_medicine.csv": "6fda30b523e4e2ce8b1f18e871a0722190a4ac81ec377a75fbba4a63e0b510f7",
    "mmlu/mmlu_professional_psychology.csv": "bfb3a7fb653e2b195d3fa258894af64d3f1c3dbd4059c1e0feb728131d20f9b3",
    "mmlu/mmlu_public_relations.csv": "2196279ea2535fbda62509c3156209b764459a3d515a9ba84b69cf16bb4c27d0",
    "mmlu/mmlu_security_studies.csv": "1354bb17649f95b7dd8ef3179e22329abe6bef84e639d63370ae9e80b2509905",
    "mmlu/mmlu_sociology.csv": "903ba6259b13f2877607abef22b7b19cb575104268d4ced615e3129d3caafb47",
    "mmlu/mmlu_us_foreign_policy.csv": "f1c1d266753a3f161e2018c16c6948fb78c7f5e506a10b4fc0441049962a6c69",
    "mmlu/mmlu_virology.csv": "d525f1ba88982befd42140e73822fe940e73db82bbdcdd569d95f26c3dd41e68",
    "mmlu/mmlu_world_religions.csv": "49dc00d44e069ecaac6a7f7e2188f4a8bce5df56ee91bb15f55519d07f64af8e",
}


def resolve_cache_dir(cache_dir: str | Path | None = None) -> Path:
    """Return the cache directory from the argument, $HYBRID_CACHE_DIR or the default, in that order."""
    if cache_dir is not None:
        return Path(cache_dir).expanduser()

    from_env = os.environ.get(CACHE_DIR_ENV)
    if from_env:
        return Path(from_env).expanduser()

    return DEFAULT_CACHE_DIR.expanduser()


def sha256_of(path: Path) -> str:
    """Return the hex SHA-256 digest of a file's bytes."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(CHUNK_BYTES), b""):
            digest.update(chunk)
    return digest.hexdigest()


def ensure_data(
    cache_dir: str | Path | None = None,
    base_url: str | None = None,
    *,
    files: Sequence[str] = DEFAULT_FILES,
) -> Path:
    """Download the missing or corrupt `files` into the cache and return the cache directory.

    `base_url` defaults to $HYBRID_DATA_URL, then `DEFAULT_BASE_URL`. `files` are
    paths inside the cache and must be keys of `SHA256`. Pass
    `DEFAULT_FILES + MMLU_FILES` to fetch MMLU as well.

    Raises DataError when a request fails, the server does not return 200 or a
    downloaded file fails its checksum. A failed file never stays in the cache.
    """
    unknown = [name for name in files if name not in SHA256]
    if unknown:
        raise InputError(
            f"no checksum is known for {unknown!r}. Pick files from DEFAULT_FILES or MMLU_FILES"
        )

    root = resolve_cache_dir(cache_dir)
    url_root = (base_url or os.environ.get(BASE_URL_ENV) or DEFAULT_BASE_URL).rstrip("/")

    with requests.Session() as session:
        for name in files:
            destination = root / name
            if _is_valid(destination, SHA256[name]):
                continue

            _download(session, f"{url_root}/{_remote_path(name)}", destination, SHA256[name])

    return root


def _remote_path(name: str) -> str:
    """Map a cache path to its path under the upstream evals directory."""
    directory, _, filename = name.rpartition("/")
    if directory == "mmlu" and filename.endswith(".csv"):
        return f"mmlu/responses/{filename}"
    return name


def _is_valid(path: Path, expected: str) -> bool:
    """Return whether a cached file exists with the expected digest, deleting it if corrupt."""
    if not path.is_file():
        return False

    actual = sha256_of(path)
    if actual == expected:
        return True

    logger.warning(
        "cached file %s fails its checksum (expected %s, got %s). Downloading it again",
        path,
        expected,
        actual,
    )
    path.unlink()
    return False


def _download(session: requests.Session, url: str, destination: Path, expected: str) -> None:
    """Stream `url` into a temporary file, check its SHA-256, then move it to `destination`."""
    destination.parent.mkdir(parents=True, exist_ok=True)
    logger.info("downloading %s to %s", url, destination)

    handle = tempfile.NamedTemporaryFile(
        dir=destination.parent, prefix=f".{destination.name}.", suffix=".part", delete=False
    )
    temp_path = Path(handle.name)

    try:
        with handle:
            actual = _stream_to(session, url, handle, destination.name)

        if actual != expected:
            raise DataError(
                f"downloaded file {destination.name} from {url} fails its checksum: "
                f"expected SHA-256 {expected}, got {actual}. The file was deleted. "
                f"Check {BASE_URL_ENV}, or pass --data ../shared/data/routellm-evals "
                "to use a local copy"
            )

        os.replace(temp_path, destination)
    finally:
        temp_path.unlink(missing_ok=True)

    logger.info("downloaded %s (SHA-256 %s)", destination, actual)


def _stream_to(session: requests.Session, url: str, handle: IO[bytes], label: str) -> str:
    """Write the response body of a GET request to `handle` and return its SHA-256."""
    digest = hashlib.sha256()

    try:
        with session.get(url, stream=True, timeout=(CONNECT_TIMEOUT_S, READ_TIMEOUT_S)) as response:
            if response.status_code != 200:
                raise DataError(
                    f"download of {url} failed with HTTP status {response.status_code}. "
                    f"Check {BASE_URL_ENV}, or pass --data ../shared/data/routellm-evals "
                    "to use a local copy"
                )

            total = int(response.headers.get("Content-Length", 0)) or None
            # disable=None turns the bar off when stderr is not a terminal.
            with tqdm(total=total, unit="B", unit_scale=True, desc=label, disable=None) as bar:
                for chunk in response.iter_content(chunk_size=CHUNK_BYTES):
                    handle.write(chunk)
                    digest.update(chunk)
                    bar.update(len(chunk))
    except requests.RequestException as error:
        raise DataError(
            f"download of {url} failed: {error}. Check the network and {BASE_URL_ENV}, "
            "or pass --data ../shared/data/routellm-evals to use a local copy"
        ) from error

    return digest.hexdigest()
