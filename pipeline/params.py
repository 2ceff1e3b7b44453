"""params.yaml: its schema (pydantic) and its validation, with clear messages.

The generic skeleton lives here; each family validates its own `model` and `data`
blocks with the pydantic classes it exports (see pipeline/families/base.py).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from pipeline.errors import PipelineError
from pipeline.families.configs import Use
from pipeline.io import paths


def _number(value):
    """A real number as YAML writes it: no booleans (`true` is not a learning rate), and a
    string only where YAML 1.1 leaves an exponent such as `1e-4` unparsed."""
    if isinstance(value, bool):
        raise ValueError(f"expected a number, found the boolean {value}")
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            raise ValueError(f"expected a number, found the text {value!r}") from None
    return value


Real = Annotated[float, BeforeValidator(_number), Field(allow_inf_nan=False)]
PositiveFloat = Annotated[Real, Field(gt=0)]
NonNegFloat = Annotated[Real, Field(ge=0)]
Eta = Annotated[Real, Field(gt=0, le=1, description="label-smoothing eta in (0, 1]")]
Count = Annotated[int, Field(strict=True, gt=0)]
NonNegInt = Annotated[int, Field(strict=True, ge=0)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PretrainCfg(Strict):
    """A backbone trained here on a source task (a dataset of its family)."""

    family: str
    model: dict
    data: str = Field(description="a name under `datasets`")
    epochs: NonNegInt = 10
    lr: PositiveFloat = 0.01
    batch_size: Count = 128
    weight_decay: NonNegFloat = 5e-4
    augment: StrictBool = False


class ImportCfg(Strict):
    """A backbone read from a checkpoint file; every key must match the model. With `url`,
    the `fetch` stage downloads the file first (the only stage that may)."""

    family: str
    model: dict
    checkpoint: str
    url: str | None = None
    md5: str | None = Field(None, pattern=r"^[0-9a-f]{32}$")


class HeadCfg(Strict):
    """The task head: linear or a 2-layer MLP; `reinit_blocks` > 0 moves the last
    blocks of the backbone into the head, re-initialised (the partial-backbone trick)."""

    kind: Literal["linear", "mlp"] = "linear"
    hidden: Count = 256
    reinit_blocks: Annotated[NonNegInt, Field(le=3)] = 0


Taus = list[NonNegInt]


def _check_taus(taus: list[int] | None) -> list[int] | None:
    if taus is None:
        return None
    if not taus:
        raise ValueError("expected a non-empty list of epochs, found []")
    if sorted(set(taus)) != list(taus):
        raise ValueError(f"expected strictly increasing epochs without duplicates, found {taus}")
    return taus


class OptimCfg(Strict):
    """SGD with momentum 0.9 on targets eta * e_y + (1 - eta) * u."""

    lr: PositiveFloat
    batch_size: Count = 128
    eta: Eta = 1.0
    weight_decay: NonNegFloat = 0.0
    augment: StrictBool = False


class HalvingCfg(Strict):
    """`search: halving` (pipeline.engine.halving): FT every tau for `first_rung` epochs (default
    ft.patience + 1: the longest a run may go without improving before early stopping ends
    it), keep the best 1/`factor` by validation score for `factor` times as many epochs, and
    so on until one tau is left; tau 0 and the largest tau always get their full FT."""

    first_rung: Count | None = None
    factor: Annotated[int, Field(strict=True, ge=2)] = 2


class HPCfg(OptimCfg):
    """Head probing at a constant lr, so one run yields every tau. `taus` overrides the
    study's grid for this setting (the toy probes up to 1024 epochs, the others 64).
    `search`: `grid` finetunes every tau in full; `halving` spends FT epochs on the
    promising taus only (`halving`)."""

    taus: Taus | None = None
    search: Literal["grid", "halving"] = "grid"
    halving: HalvingCfg = HalvingCfg()

    @field_validator("taus")
    @classmethod
    def _taus(cls, taus):
        return _check_taus(taus)


class FTCfg(OptimCfg):
    """Finetuning: the lr follows `schedule` over `epochs` (cosine: appendix B's default;
    constant: the toy's 1e-4; none: VOC's "no learning rate scheduler", the same as
    constant); early stopping on validation after `patience` epochs without improvement,
    never before the last of `z_epochs`, the epochs at which evaluate reads z_T."""

    epochs: Count
    patience: Count = 5
    schedule: Literal["cosine", "constant", "none"] = "cosine"
    z_epochs: list[int] | None = Field(
        None,
        validate_default=True,
        description="the two FT epochs at which evaluate reads z_T, ascending (the first at "
        "most the second), each from 1 to `epochs`; FT runs at least through the second. "
        "Default when absent: [ceil(epochs/2), epochs]",
    )

    @field_validator("z_epochs", mode="before")
    @classmethod
    def _z_epochs(cls, z, info: ValidationInfo):
        epochs = info.data.get("epochs")
        if epochs is None:  # `epochs` is refused on its own line
            return z
        if z is None:
            return [math.ceil(epochs / 2), epochs]
        if not (
            isinstance(z, list)
            and len(z) == 2
            and all(type(e) is int for e in z)
            and 1 <= z[0] <= z[1] <= epochs
        ):
            raise ValueError(
                f"expected two FT epochs, the first at most the second, each from 1 to epochs "
                f"({epochs}), found {z!r}"
            )
        return z


class SettingCfg(Strict):
    """`bn`: the BatchNorm running statistics HP, E_aie and z_0 use. `source`: the
    pretrained backbone's (the paper's literal protocol); `target`: re-estimated on the
    downstream training split before HP (no augmentation, gradient or weight change), so
    that HP probes the features FT starts from."""

    pretrain: str
    data: str
    head: HeadCfg = HeadCfg()
    bn: Literal["source", "target"] = "source"
    hp: HPCfg
    ft: FTCfg


def _check_seeds(seeds: list[int]) -> list[int]:
    if not seeds or len(set(seeds)) != len(seeds):
        raise ValueError(f"expected a non-empty list of distinct seeds, found {seeds}")
    return seeds


class AnalysisCfg(Strict):
    """How the study's conclusions are judged (docs/analysis-plan.md): a `preview`, or the
    `confirmatory` study that answers, judged by the plan as committed at `plan`, at `look`."""

    role: Literal["preview", "confirmatory"] = "preview"
    alpha: float = Field(
        0.05, gt=0, lt=1, description="each test, two-sided (0.025 per look of two)"
    )
    plan: str = Field("", description="the commit of docs/analysis-plan.md (confirmatory)")
    look: Annotated[int, Field(strict=True, ge=1)] = 1

    @model_validator(mode="after")
    def _confirmatory_names_its_plan(self):
        if self.role == "confirmatory" and not self.plan:
            raise ValueError(
                "plan: expected the commit of docs/analysis-plan.md for a confirmatory study, found none"
            )
        return self


class Study(Strict):
    """`seed` fixes the data splits and (unless `replicate_pretrain`) pretraining; every HP,
    FT and evaluation is replicated over `seeds` (head initialisation, data order,
    augmentation, dropout) on the same pretrained backbone, as in the paper, whose
    backbones are fixed checkpoints. With `replicate_pretrain`, each replicate seed also
    pretrains its own backbone."""

    name: str | None = Field(
        None,
        exclude=True,  # where the outputs go, not what they hold: not in results/params.json
        description="the study's folders, results/NAME/ and runs/NAME/ (default: the file's stem)",
    )
    seed: NonNegInt = 0
    seeds: list[NonNegInt] = [0]
    replicate_pretrain: StrictBool = False
    device: Literal["auto", "cpu", "cuda"] = "auto"
    taus: Taus
    z_split: Literal["train", "val", "test"] = "train"
    exchange: dict[str, list[int]]
    datasets: dict[str, dict]
    pretrain: dict[str, PretrainCfg]
    imports: dict[str, ImportCfg]
    settings: dict[str, SettingCfg]
    analysis: AnalysisCfg = AnalysisCfg()

    @field_validator("taus")
    @classmethod
    def _taus(cls, taus):
        return _check_taus(taus)

    @field_validator("name")
    @classmethod
    def _name(cls, name):
        return name if name is None else paths.check_name(name)

    @field_validator("seeds")
    @classmethod
    def _seeds(cls, seeds):
        return _check_seeds(seeds)

    @model_validator(mode="after")
    def _references(self):
        def family(where, dataset):
            if dataset not in self.datasets:
                raise ValueError(
                    f"{where}.data: expected one of {sorted(self.datasets)}, found {dataset!r}"
                )
            return self.datasets[dataset].get("family")

        for name in set(self.pretrain) & set(self.imports):
            raise ValueError(
                f"imports.{name}: expected a name not used under `pretrain`, found {name!r} in both"
            )
        for name, p in self.pretrain.items():
            if family(f"pretrain.{name}", p.data) != p.family:
                raise ValueError(
                    f"pretrain.{name}.data: expected a {p.family} dataset, found {p.data!r} "
                    f"of family {self.datasets[p.data].get('family')!r}"
                )
        for name, s in self.settings.items():
            if s.pretrain not in self.backbones:
                raise ValueError(
                    f"settings.{name}.pretrain: expected one of {sorted(self.backbones)} "
                    f"(under `pretrain` or `imports`), found {s.pretrain!r}"
                )
            family(f"settings.{name}", s.data)
        for name, taus in self.exchange.items():
            if name not in self.settings:
                raise ValueError(f"exchange.{name}: expected a setting name, found {name!r}")
            if not set(taus) <= set(self.taus_of(name)):
                raise ValueError(
                    f"exchange.{name}: expected a subset of the setting's taus "
                    f"{self.taus_of(name)}, found {taus}"
                )
        return self

    def taus_of(self, setting: str) -> list[int]:
        """The HP grid of one setting: its `hp.taus`, else the study's `taus`."""
        return self.settings[setting].hp.taus or self.taus

    @property
    def pretrain_seeds(self) -> list[int]:
        """The seeds each backbone is pretrained with."""
        return list(self.seeds) if self.replicate_pretrain else [self.seed]

    def backbone_seed(self, seed: int) -> int:
        """The pretraining seed of the backbone that replicate `seed` starts from."""
        return seed if self.replicate_pretrain else self.seed

    @property
    def backbones(self) -> dict[str, PretrainCfg | ImportCfg]:
        """Every backbone a setting can start from: trained here or imported."""
        return {**self.pretrain, **self.imports}

    def data_cfg(self, dataset: str) -> dict:
        """A dataset's block without its `family` key: what the family's DataCfg validates."""
        return {k: v for k, v in self.datasets[dataset].items() if k != "family"}


def _format(err: ValidationError, source: str) -> str:
    lines = []
    for e in err.errors():
        key = ".".join(str(p) for p in e["loc"])
        found = e.get("input")
        tail = "" if e["type"] in {"missing", "value_error"} else f" (found {found!r})"
        msg = e["msg"].removeprefix("Value error, ")
        lines.append(f"{source}: {key + ': ' if key else ''}{msg}{tail}")
    return "\n".join(lines)


def validate(raw: dict, source: str = "params.yaml", check_files: bool = True) -> Study:
    """Validate the whole study, family blocks included; raise PipelineError on bad input."""
    from pipeline.data import layout  # the layout of a user's data files: no torch
    from pipeline.families import (  # the families' config classes: no torch
        get_config,
        known_families,
    )

    if not isinstance(raw, dict):
        raise PipelineError(
            f"{source}: expected a mapping at the top level, found {type(raw).__name__}"
        )
    try:
        study = Study.model_validate(raw)
    except ValidationError as err:
        raise refusal(_format(err, source).splitlines(), source) from None
    problems = []
    for name, d in study.datasets.items():
        fam = d.get("family")
        if fam not in known_families():
            problems.append(
                f"{source}: datasets.{name}.family: expected one of {known_families()}, found {fam!r}"
            )
        else:
            problems += _check(
                get_config(fam).DataCfg,
                study.data_cfg(name),
                f"datasets.{name}",
                source,
                check_files and layout.check,
            )
    for section, name, p in [("pretrain", n, p) for n, p in study.pretrain.items()] + [
        ("imports", n, p) for n, p in study.imports.items()
    ]:
        if p.family not in known_families():
            problems.append(
                f"{source}: {section}.{name}.family: expected one of {known_families()}, found {p.family!r}"
            )
            continue
        problems += _check(
            get_config(p.family).ModelCfg, p.model, f"{section}.{name}.model", source
        )
        weights = p.checkpoint if section == "imports" else p.model.get("weights")
        if section == "imports" and p.model.get("weights"):
            problems.append(
                f"{source}: imports.{name}.model.weights: expected none (an import's weights are its "
                f"`checkpoint`), found {p.model['weights']!r}"
            )
        elif (
            check_files
            and weights
            and getattr(p, "url", None) is None
            and not Path(weights).is_file()
        ):
            key = "checkpoint" if section == "imports" else "model.weights"
            problems.append(
                f"{source}: {section}.{name}.{key}: expected an existing file, found {weights!r}"
            )
    for name, s in study.settings.items():
        fam, pre = study.datasets[s.data].get("family"), study.backbones[s.pretrain].family
        if fam in known_families() and pre != fam and pre not in get_config(fam).backbone_from:
            problems.append(
                f"{source}: settings.{name}.data: expected a dataset of family {pre!r} (the family of "
                f"its pretrain {s.pretrain!r}), found {s.data!r} of family {fam!r}"
            )
    if not problems:  # every block is valid: each family checks what it is asked to run
        problems = [
            f"{source}: {p}" for use in uses(study) for p in get_config(use.family).check(use.use)
        ]
    if problems:
        raise refusal(problems, source)
    return study


def refusal(problems: list[str], source: str, max_lines: int = 3) -> PipelineError:
    """One error of at most `max_lines` lines: the first problems, then how many more."""
    if len(problems) > max_lines:
        problems = problems[: max_lines - 1] + [
            f"{source}: ... and {len(problems) - max_lines + 1} more problems"
        ]
    return PipelineError("\n".join(problems))


@dataclass(frozen=True)
class FamilyUse:
    family: str  # the dataset's family: the one that runs the job
    use: Use


def uses(study: Study) -> list[FamilyUse]:
    """Every pretrain entry and setting, as the family of its dataset sees it."""
    from pipeline.families import get_config

    def make(where, family_of_model, model, data, **kw):
        fam = study.datasets[data]["family"]
        return FamilyUse(
            fam,
            Use(
                where,
                get_config(family_of_model).ModelCfg.model_validate(model),
                get_config(fam).DataCfg.model_validate(study.data_cfg(data)),
                data,
                **kw,
            ),
        )

    out = [
        make(f"pretrain.{n}", p.family, p.model, p.data, augment=(("augment", p.augment),))
        for n, p in study.pretrain.items()
    ]
    for n, s in study.settings.items():
        pre = study.backbones[s.pretrain]
        out.append(
            make(
                f"settings.{n}",
                pre.family,
                pre.model,
                s.data,
                head=s.head,
                bn=s.bn,
                augment=(("hp.augment", s.hp.augment), ("ft.augment", s.ft.augment)),
            )
        )
    return out


def _check(cls, block: dict, where: str, source: str, check=None) -> list[str]:
    """Problems of one family block; `check(cfg)` may refuse a valid one (PipelineError)."""
    try:
        cfg = cls.model_validate(block)
        if check:
            check(cfg)
        return []
    except ValidationError as err:
        return [
            f"{source}: {where}.{line.split(': ', 1)[1]}"
            for line in _format(err, source).splitlines()
        ]
    except PipelineError as err:
        return [f"{source}: {where}.path: {err}"]


PARAMS_ENV = "TASKHEAD_PARAMS"  # the study file of the CLI when --params is not given


def read_raw(path: str | Path = "params.yaml"):
    from pipeline.io.yamlfile import read  # UTF-8 only, duplicate keys refused, one-line errors

    return read(path, what="params file")


def load(path: str | Path = "params.yaml", check_files: bool = True) -> Study:
    return validate(read_raw(path), str(path), check_files)
