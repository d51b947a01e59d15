"""Load and validate segpipe configuration files.

The schema lives in ``workflows/schemas/config.schema.yaml`` (shipped inside the package as
``segpipe/schemas/config.schema.yaml`` in wheels). Validation collects every problem, fills the
schema's defaults, and reports each problem with its key path and the allowed values. The checks the
schema cannot express and that training would otherwise make only after preprocessing (weight
schedules, the network's strides and patch size) live here too, and training calls them.
"""

from __future__ import annotations

import copy
import functools
import hashlib
import math
from collections.abc import Iterator, Mapping, Sequence
from os import PathLike
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from segpipe.errors import ConfigError
from segpipe.io.atomic import atomic_open

_SCHEMA_CANDIDATES = (
    Path(__file__).parent / "schemas" / "config.schema.yaml",
    Path(__file__).resolve().parents[1] / "workflows" / "schemas" / "config.schema.yaml",
)


def schema_path() -> Path:
    """Return the path of the configuration schema."""
    for candidate in _SCHEMA_CANDIDATES:
        if candidate.is_file():
            return candidate
    raise FileNotFoundError("config.schema.yaml not found beside the package or in workflows/schemas")


@functools.lru_cache(maxsize=1)
def load_schema() -> dict[str, Any]:
    """Return the parsed configuration schema."""
    with open(schema_path(), encoding="utf-8") as handle:
        return yaml.safe_load(handle)


def _with_defaults(validator_class: type) -> type:
    """Extend a jsonschema validator so that ``properties`` fills in missing defaults."""
    validate_properties = validator_class.VALIDATORS["properties"]

    def set_defaults(validator: Any, properties: Mapping[str, Any], instance: Any, schema: Any) -> Iterator[Any]:
        if isinstance(instance, dict):
            for name, subschema in properties.items():
                if "default" in subschema and name not in instance:
                    instance[name] = copy.deepcopy(subschema["default"])
        yield from validate_properties(validator, properties, instance, schema)

    return jsonschema.validators.extend(validator_class, {"properties": set_defaults})


def _key_path(error: jsonschema.ValidationError) -> str:
    parts = [str(part) for part in error.absolute_path]
    return ".".join(parts) if parts else "<top level>"


def _describe(error: jsonschema.ValidationError) -> str:
    """Turn one jsonschema error into a sentence naming the key and what is allowed."""
    key = _key_path(error)
    schema = error.schema if isinstance(error.schema, dict) else {}
    if error.validator == "additionalProperties":
        allowed = sorted(schema.get("properties", {}))
        known = set(allowed)
        unknown = sorted(k for k in error.instance if k not in known) if isinstance(error.instance, dict) else []
        where = "" if key == "<top level>" else f" in '{key}'"
        names = ", ".join(repr(k) for k in unknown)
        return f"unknown key {names}{where}; allowed keys: {', '.join(allowed) or '(none)'}"
    if error.validator == "enum":
        allowed = ", ".join(repr(v) for v in error.validator_value)
        return f"'{key}' is {error.instance!r}; allowed values: {allowed}"
    if error.validator == "type":
        expected = error.validator_value
        expected = " or ".join(expected) if isinstance(expected, list) else expected
        return f"'{key}' must be of type {expected}, got {error.instance!r}"
    if error.validator == "required":
        return f"'{key}' is missing a required key: {error.message.split()[0]}"
    return f"'{key}': {error.message}"


def validate_config(config: dict[str, Any], *, source: str = "config", dataset_generated: bool = False) -> dict[str, Any]:
    """Validate ``config`` in place against the schema and fill in defaults.

    Parameters
    ----------
    config
        Parsed configuration (modified in place: defaults are added).
    source
        Name of the configuration's origin, used in error messages.
    dataset_generated
        ``dataset.path`` is made by the workflow (the decode comparison's landmark data), so it
        need not exist yet.

    Returns
    -------
    dict
        The same mapping, with defaults filled in.

    Raises
    ------
    ConfigError
        Listing every problem found, each with its key path and the allowed values.
    """
    if not isinstance(config, dict):
        raise ConfigError("the configuration must be a mapping of keys to values", where=source)
    given_sections = set(config)
    schema = load_schema()
    validator_class = _with_defaults(jsonschema.validators.validator_for(schema))
    validator = validator_class(schema)
    errors = sorted(validator.iter_errors(config), key=lambda e: [str(p) for p in e.absolute_path])
    problems = [_describe(error) for error in errors]
    problems.extend(_semantic_problems(config, given_sections, dataset_generated))
    if problems:
        listing = "\n  - ".join(dict.fromkeys(problems))
        raise ConfigError(
            f"invalid configuration:\n  - {listing}",
            where=source,
            fix=f"edit the keys named above; every key is documented in {schema_path().name}",
        )
    return config


def _semantic_problems(config: dict[str, Any], given_sections: set[str], dataset_generated: bool = False) -> list[str]:
    """Checks that JSON schema cannot express: cross references and input paths."""
    problems: list[str] = []
    dataset = config.get("dataset", {})
    if dataset.get("source") == "directory":
        path = dataset.get("path")
        if not path:
            problems.append("'dataset.path' must be set when 'dataset.source' is 'directory'")
        elif not dataset_generated and not Path(path).is_dir():
            problems.append(f"'dataset.path' is {path!r}, which is not an existing directory")
    synthetic = dataset.get("synthetic", {})
    if synthetic.get("n_train_small", 0) > synthetic.get("n_train", 0):
        problems.append(
            f"'dataset.synthetic.n_train_small' ({synthetic['n_train_small']}) exceeds 'dataset.synthetic.n_train' "
            f"({synthetic['n_train']}); the small training set is part of the training set"
        )
    radius = synthetic.get("vessels", {}).get("radius_mm", [0, 1])
    if isinstance(radius, list) and len(radius) == 2 and not radius[0] < radius[1]:
        problems.append(f"'dataset.synthetic.vessels.radius_mm' is {radius}; give [smallest, largest] with smallest < largest")
    train = config.get("train", {})
    problems.extend(distributed_problems(train, train.get("device", "auto")))
    network = train.get("network", {})
    problems.extend(network_problems(network.get("channels"), network.get("strides"), train.get("patch_size")))
    losses = config.get("losses", {})
    for name, definition in losses.items():
        for index, term in enumerate(definition.get("terms", []) if isinstance(definition, Mapping) else []):
            if isinstance(term, Mapping):
                problems.extend(schedule_problems(term.get("weight"), f"losses.{name}.terms[{index}].weight"))
    distance_maps = config.get("preprocess", {}).get("distance_maps", False)
    classes = config.get("preprocess", {}).get("label_policy") == "classes"
    if classes and train.get("output", "sigmoid") != "softmax":
        problems.append(
            "'preprocess.label_policy' is classes (one network output per class), but 'train.output' is "
            f"{train.get('output', 'sigmoid')!r}; set 'train.output: softmax', or a label_policy of strict or binarise"
        )
    if classes and config.get("photo", {}).get("source"):
        problems.append(
            "'preprocess.label_policy' is classes, but the photo step ('photo.source') segments mortar with a binary "
            "model; set 'photo.source: null'"
        )
    experiments = config.get("experiments", {})
    named = [("experiments.losses", name) for name in experiments.get("losses", [])]
    named += [
        (f"experiments.settings[{index}].losses", name)
        for index, setting in enumerate(experiments.get("settings") or [])
        for name in setting.get("losses") or []
    ]
    if "decode" in given_sections:  # the decode target's loss; its default only matters when decode is configured
        named += [("decode.unet.loss", config["decode"]["unet"]["loss"])]
    for key, name in named:
        if name not in losses:
            problems.append(
                f"'{key}' names {name!r}, which is not defined under 'losses'; "
                f"defined: {', '.join(sorted(losses)) or '(none)'}"
            )
        elif not distance_maps and any(term.get("name") == "boundary" for term in losses[name].get("terms", [])):
            problems.append(
                f"'losses.{name}' (an experiment's loss) uses the boundary term, which needs the signed distance "
                "maps of preprocessing; set 'preprocess.distance_maps: true'"
            )
        elif classes and any(term.get("name") == "boundary" for term in losses[name].get("terms", [])):
            problems.append(
                f"'losses.{name}' (an experiment's loss) uses the boundary term, whose distance maps are of the "
                "union of the classes, but 'preprocess.label_policy' is classes; drop the term from the loss, or "
                "set a label_policy of strict or binarise"
            )
    return problems


def _numbers(values: Any) -> bool:
    """Whether ``values`` is a sequence of numbers (else the schema reports it)."""
    return isinstance(values, Sequence) and all(
        isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v) for v in values
    )


def schedule_problems(weight: Any, where: str) -> list[str]:
    """Problems of a term's weight schedule that the schema cannot express.

    Parameters
    ----------
    weight
        The term's ``weight``: a number (nothing to check) or a schedule mapping
        (:mod:`segpipe.training.losses.schedules`).
    where
        Key path of the weight, e.g. ``losses.<name>.terms[<i>].weight``.

    Returns
    -------
    list of str
        One sentence per problem (empty when the schedule is valid): ``until`` must be greater
        than ``begin`` (``until`` is 1.0, the end of the run, when not given with unit fraction).
    """
    if not isinstance(weight, Mapping):
        return []
    begin = weight.get("begin", 0.0)
    until = weight.get("until", 1.0 if weight.get("unit", "fraction") == "fraction" else None)
    if not _numbers([begin, until]) or until > begin:
        return []
    return [f"'{where}.until' ({until:g}) must be greater than '{where}.begin' ({begin:g}): the weight moves "
            "from start to end between them"]


def network_problems(channels: Any, strides: Any, patch_size: Any = None) -> list[str]:
    """Settings of ``train.network`` and ``train.patch_size`` that do not fit together.

    Parameters
    ----------
    channels, strides
        ``train.network.channels`` and ``train.network.strides``.
    patch_size
        ``train.patch_size`` (None: whole images, checked against the manifest by training).

    Returns
    -------
    list of str
        One sentence per problem, naming the keys and the fix (empty when they fit): one stride per
        down-sampling step, and patch sizes that are multiples of the product of the strides.
    """
    if not (_numbers(channels) and _numbers(strides)):
        return []  # the schema reports it
    if len(strides) != len(channels) - 1:
        return [f"'train.network.strides' has {len(strides)} values but 'train.network.channels' has "
                f"{len(channels)}; give one stride per down-sampling step: len(strides) == len(channels) - 1"]
    divisor = math.prod(int(s) for s in strides)
    if _numbers(patch_size) and any(int(p) % divisor for p in patch_size):
        return [f"'train.patch_size' {list(patch_size)} is not divisible by {divisor} (the product of "
                f"'train.network.strides'); use multiples of {divisor}"]
    return []


def distributed_problems(train: Mapping[str, Any], device: str) -> list[str]:
    """Settings of ``train.distributed`` that cannot work with the rest of ``train``.

    Parameters
    ----------
    train
        The ``train`` section.
    device
        ``"cpu"`` or ``"cuda"``; ``"auto"`` while the device is not known yet (the checks that
        depend on it are left to ``segpipe train``, which calls this again with the device it uses).

    Returns
    -------
    list of str
        One sentence per problem, naming the keys (empty when the settings fit together).
    """
    distributed = train.get("distributed", {})
    processes, backend = distributed.get("processes", 1), distributed.get("backend", "auto")
    if not isinstance(processes, int) or processes < 1:
        return []  # the schema reports it
    problems = []
    batch_size = train.get("batch_size")
    if isinstance(batch_size, int) and batch_size % processes:
        problems.append(
            f"'train.batch_size' ({batch_size}) is not a multiple of 'train.distributed.processes' ({processes}); "
            "every process computes an equal share of each batch"
        )
    if backend == "nccl" and device == "cpu":
        problems.append("'train.distributed.backend' is 'nccl', which needs CUDA, but training runs on the CPU; use 'gloo' or 'auto', or train on CUDA")
    if processes > 1 and device == "cpu" and train.get("network", {}).get("norm") == "batch":
        problems.append(
            "'train.network.norm' is 'batch' with several CPU processes: torch synchronises batch statistics "
            "across processes (SyncBatchNorm) only on GPUs, so each process would normalise with its own share "
            "of the batch; use norm 'instance', one process, or device 'cuda'"
        )
    return problems


def load_config(path: str | PathLike[str]) -> dict[str, Any]:
    """Read a YAML configuration file, validate it and fill in defaults.

    Parameters
    ----------
    path
        Path of the YAML file.

    Returns
    -------
    dict
        The validated configuration.

    Raises
    ------
    ConfigError
        If the file is missing, is not valid YAML, or does not satisfy the schema.
    """
    path = Path(path)
    if not path.is_file():
        raise ConfigError("configuration file not found", where=path, fix="pass the path of an existing YAML file")
    try:
        with open(path, encoding="utf-8") as handle:
            config = yaml.safe_load(handle) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"not valid YAML: {exc}", where=path, fix="correct the YAML syntax at the position shown") from exc
    return validate_config(config, source=str(path))


def config_snapshot_path(directory: str | PathLike[str], config: dict[str, Any]) -> Path:
    """Content-addressed snapshot path for ``config``: ``directory/<12 hex digits of its SHA-256>.yaml``.

    A configuration always maps to the same file and different configurations to different files,
    so a workflow's jobs keep reading the configuration they were planned with even when another
    invocation (a dry run with other ``--config`` values, say) writes its own snapshot meanwhile.
    """
    digest = hashlib.sha256(_snapshot_text(config).encode("utf-8")).hexdigest()[:12]
    return Path(directory) / f"{digest}.yaml"


def _snapshot_text(config: dict[str, Any]) -> str:
    return yaml.safe_dump(config, sort_keys=False)


def write_config_snapshot(path: str | PathLike[str], config: dict[str, Any]) -> Path:
    """Write the effective configuration to ``path`` unless it already holds exactly that.

    Leaving an unchanged snapshot untouched keeps its timestamp, so that workflow engines do not
    see a change where there is none.
    """
    path = Path(path)
    text = _snapshot_text(config)
    if not path.is_file() or path.read_text(encoding="utf-8") != text:
        with atomic_open(path) as handle:
            handle.write(text)
    return path
