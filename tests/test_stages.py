"""The stages on the tiny toy study, run in-process in a scratch directory."""

import json
import math

import pytest
import torch
from conftest import tiny_study

from pipeline.engine import loop
from pipeline.engine.setting import Setting
from pipeline.io import paths
from pipeline.params import validate
from pipeline.runtime.device import Runtime
from pipeline.stages import aggregate, evaluate, exchange, finetune, prepare, pretrain, probe

CPU = Runtime(torch.device("cpu"))


def tiny(seeds=(0,), **top) -> dict:
    """The tiny study at the given replicate seeds."""
    return {**tiny_study(), "seeds": list(seeds), **top}


def _prepare_and_pretrain(study):
    for name in study.datasets:
        prepare.run(study, name)
    for name in study.pretrain:
        pretrain.run(study, name, study.pretrain_seeds, CPU)


@pytest.fixture
def study(in_tmp):
    s = validate(tiny())
    _prepare_and_pretrain(s)
    return s


def state(path) -> dict:
    return torch.load(path, weights_only=False)["state_dict"]


def same_state(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_whole_chain_writes_every_output(study):
    for setting in study.settings:
        probe.run(study, setting, CPU)
        finetune.run(study, setting, study.seeds, study.taus_of(setting), CPU)
        rows = evaluate.run(study, setting, CPU)
        assert [(r["seed"], r["tau"]) for r in rows] == [(0, t) for t in study.taus]
        for r in rows:
            assert (r["setting"], r["bn"], r["ft_epochs"]) == (setting, "source", 2)
            assert r["stopped_early"] == (r["epochs_run"] < 2)
            # FT's 2 epochs: z_T read after epochs ceil(2 / 2) = 1 and 2, at every tau
            assert (r["z_epoch"], r["z_epoch2"]) == (1, 2)
            for key in (
                "val_score",
                "test_score",
                "energy",
                "head_norm",
                "z_dist_sq",
                "z_dot",
                "z_norm_sq",
                "z_cos",
                "z2_dist_sq",
                "z2_dot",
                "z2_norm_sq",
                "z2_cos",
                "hp_train_acc",
            ):
                assert math.isfinite(r[key]), key
            head = torch.load(paths.hp_head(setting, 0, r["tau"]))["state_dict"]
            # the toy's linear head: its weight and bias are all its parameters
            assert r["head_norm"] == pytest.approx(
                math.sqrt(sum(head[k].double().pow(2).sum().item() for k in head))
            )
            # the MLP toy has no BatchNorm: no statistics part of the feature change
            assert math.isnan(r["z_stats_dist_sq"]) and math.isnan(r["z_weights_dist_sq"])
            assert (paths.curves(setting) / f"seed0_tau{r['tau']}.csv").is_file()
        assert rows[0]["energy"] > rows[-1]["energy"]  # HP lowers the energy left for FT
    table = exchange.run(study, "toy", CPU)
    assert set(table["seed"]) == {0} and len(table) == 2 * 2 * 2  # split x backbone tau x head tau
    aggregate.run(study)
    for path in paths.AGGREGATE_OUTS + [paths.exchange("toy", "csv"), paths.exchange("toy", "png")]:
        assert path.is_file() and path.stat().st_size > 0, path


def test_probe_freezes_the_backbone_for_real(study, monkeypatch):
    """Eval mode, no gradients, BatchNorm statistics unchanged (a BN layer is added to the
    toy backbone so that there are statistics to drift)."""
    from pipeline.families import classification

    original = classification.mlp_backbone

    def with_bn(*a):
        return torch.nn.Sequential(torch.nn.Flatten(), torch.nn.BatchNorm1d(64), *original(*a)[1:])

    monkeypatch.setattr(classification, "mlp_backbone", with_bn)
    study.pretrain["mlp"].__dict__["epochs"] = 1
    pretrain.run(study, "mlp", study.pretrain_seeds, CPU)
    seen = {}
    real_freeze = loop.freeze

    def spy(module):
        out = real_freeze(module)
        seen["backbone"], seen["before"] = (
            module,
            {k: v.clone() for k, v in module.state_dict().items()},
        )
        return out

    monkeypatch.setattr(probe, "freeze", spy)
    study.settings["toy"].hp.__dict__["augment"] = True  # every epoch goes through the backbone
    probe.run(study, "toy", CPU)
    bb = seen["backbone"]
    assert not bb.training and all(not m.training for m in bb.modules())
    assert all(not p.requires_grad and p.grad is None for p in bb.parameters())
    after = bb.state_dict()
    assert all(torch.equal(seen["before"][k], after[k]) for k in after)  # incl. running_mean / var


def test_one_hp_run_gives_the_heads_of_separate_runs(study):
    """The head at tau = 2 of the grid [0, 1, 2] equals that of a run over [0, 2] alone."""
    probe.run(study, "toy", CPU)
    long_run = state(paths.hp_head("toy", 0, 2))
    short = validate(tiny(taus=[0, 2], exchange={}))
    probe.run(short, "toy", CPU)
    assert same_state(long_run, state(paths.hp_head("toy", 0, 2)))
    [run] = json.loads(paths.hp_log("toy").read_text())["runs"]
    assert run["seed"] == 0 and [r["tau"] for r in run["taus"]] == [0, 2]


def test_cached_and_uncached_hp_agree(study):
    """HP from cached features equals HP through the frozen backbone (no augmentation)."""
    probe.run(study, "toy", CPU)
    cached = state(paths.hp_head("toy", 0, 2))
    ctx = Setting(study, "toy", 0)
    splits = ctx.splits(augment=False)
    backbone, head = ctx.parts(splits, CPU)
    backbone = loop.freeze(backbone)
    opt = loop.sgd(head.parameters(), ctx.cfg.hp.lr, 0.0)
    from pipeline.runtime.seeding import derive

    seed = ctx.seed_for("hp")
    z, y = loop.features(
        backbone, ctx.family.loader(splits.train_plain, 128, False, seed), ctx.family, CPU
    )
    for epoch in (1, 2):
        torch.manual_seed(derive(seed, "epoch", epoch))
        order = loop.cached_loader(z, y, 128, True, derive(seed, "order", epoch))
        loop.train_epoch(head, order, ctx.family, opt, 1.0, CPU, unpack=loop.default_unpack)
    assert all(torch.allclose(cached[k], v, atol=1e-6) for k, v in head.state_dict().items())


def test_interrupted_finetune_resumes(study, monkeypatch, capsys):
    """Cut in epoch 3, after the z epoch 2: its model, kept in the resume file, is written with
    the others when the rerun ends, the same bytes as an uninterrupted run's."""
    from pipeline.io.provenance import digest

    probe.run(study, "toy", CPU)
    cfg = study.settings["toy"].ft
    cfg.__dict__.update(epochs=4, patience=10, z_epochs=[2, 4])
    finetune.run(study, "toy", [0], [1], CPU)
    whole = torch.load(paths.ft_model("toy", 0, 1))
    snapshots = [paths.ft_snapshot("toy", 0, 1, e) for e in (2, 4)]
    whole_snapshots = [digest(p) for p in snapshots]

    calls = {"n": 0}
    real = loop.train_epoch

    def dies_in_epoch_3(*a, **k):
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt
        return real(*a, **k)

    monkeypatch.setattr(loop, "train_epoch", dies_in_epoch_3)
    out = paths.ft_model("toy", 0, 1)
    for path in (out, *snapshots):
        path.unlink()
    with pytest.raises(KeyboardInterrupt):
        finetune.run(study, "toy", [0], [1], CPU)
    assert paths.resume_of(out).is_file() and not out.exists()
    assert not any(p.exists() for p in snapshots)
    # outside every declared output
    assert paths.resume_of(out).is_relative_to(paths.RUNS / "resume")
    monkeypatch.setattr(loop, "train_epoch", real)
    capsys.readouterr()
    finetune.run(study, "toy", [0], [1], CPU)
    assert "resumed_from_epoch=2" in capsys.readouterr().err
    resumed = torch.load(out)
    assert resumed["history"] == whole["history"]
    assert same_state(whole["state_dict"], resumed["state_dict"])
    assert [digest(p) for p in snapshots] == whole_snapshots
    assert not paths.resume_of(out).exists()


def test_ft_runs_through_the_last_z_epoch_and_z_is_read_there(study, monkeypatch):
    """A validation score that never improves: patience 1 stops FT after epoch 2, unless a z
    epoch lies later; the scored model stays epoch 1's, and evaluate reads z_T from the models
    after the z epochs, in eval mode."""
    probe.run(study, "toy", CPU)
    cfg = study.settings["toy"].ft
    monkeypatch.setattr(loop, "assess", lambda *a, **k: {"score": 0.5, "acc": 0.5, "energy": 1})
    cfg.__dict__.update(epochs=5, patience=1, z_epochs=[1, 1])
    finetune.run(study, "toy", [0], [0], CPU)
    assert torch.load(paths.ft_model("toy", 0, 0))["epochs_run"] == 2
    cfg.__dict__.update(z_epochs=[2, 3])
    finetune.run(study, "toy", [0], [0, 1, 2], CPU)
    saved = torch.load(paths.ft_model("toy", 0, 0))
    assert (saved["epochs_run"], saved["best_epoch"], len(saved["history"])) == (3, 1, 3)
    after = {e: state(paths.ft_snapshot("toy", 0, 0, e)) for e in (2, 3)}
    assert not same_state(after[2], after[3]) and not same_state(after[2], saved["state_dict"])

    ctx = Setting(study, "toy", 0)
    splits = ctx.splits(augment=False)

    def z_of(weights):
        model = loop.TaskModel(*ctx.parts(splits, CPU))
        model.load_state_dict(weights)
        loader = ctx.family.loader(splits.get(study.z_split), 256, False, 0)
        return loop.features(model.backbone, loader, ctx.family, CPU)[0]

    row = evaluate.run(study, "toy", CPU)[0]
    assert (row["tau"], row["z_epoch"], row["z_epoch2"]) == (0, 2, 3)
    norm_sq = {
        at: z_of(weights).double().pow(2).sum(1).mean().item()
        for at, weights in [*after.items(), ("scored", saved["state_dict"])]
    }
    assert row["z_norm_sq"] == pytest.approx(norm_sq[2])
    assert row["z2_norm_sq"] == pytest.approx(norm_sq[3])
    assert norm_sq["scored"] != pytest.approx(norm_sq[2])


def test_same_params_same_numbers(study):
    probe.run(study, "toy", CPU)
    finetune.run(study, "toy", [0], [2], CPU)
    first = state(paths.ft_model("toy", 0, 2))
    _prepare_and_pretrain(study)
    probe.run(study, "toy", CPU)
    finetune.run(study, "toy", [0], [2], CPU)
    assert same_state(first, state(paths.ft_model("toy", 0, 2)))


def test_label_smoothed_companion_starts_from_the_same_head(study):
    for s in ("toy", "toy_ls"):
        probe.run(study, s, CPU)
    a, b = (state(paths.hp_head(s, 0, 0)) for s in ("toy", "toy_ls"))
    assert same_state(a, b)


def test_same_params_same_bytes(in_tmp):
    """Artifacts are byte-identical across runs, so DVC's content hashes are stable."""
    from pipeline.io.provenance import digest

    study = validate(tiny())
    prepare.run(study, "d012")
    first = digest(paths.dataset("d012"))
    prepare.run(study, "d012")
    assert digest(paths.dataset("d012")) == first


def test_finetune_of_all_taus_in_one_process_gives_the_same_bytes(study):
    """DVC finetunes a setting's taus in one process, Snakemake one tau per job: the models
    must be the same either way (the head, seeds and draws restart for every tau)."""
    from pipeline.io.provenance import digest

    probe.run(study, "toy", CPU)
    finetune.run(study, "toy", [0], [0, 1, 2], CPU)
    together = {t: digest(paths.ft_model("toy", 0, t)) for t in (0, 1, 2)}
    for t in (2, 0, 1):
        finetune.run(study, "toy", [0], [t], CPU)
        assert digest(paths.ft_model("toy", 0, t)) == together[t], t


def test_a_setting_may_have_its_own_tau_grid(in_tmp):
    raw = tiny()
    raw["settings"]["toy"]["hp"]["taus"] = [0, 3]
    raw["exchange"] = {"toy": [0, 3]}
    study = validate(raw)
    assert study.taus_of("toy") == [0, 3] and study.taus_of("toy_ls") == [0, 1, 2]
    _prepare_and_pretrain(study)
    probe.run(study, "toy", CPU)
    [run] = json.loads(paths.hp_log("toy").read_text())["runs"]
    assert [r["tau"] for r in run["taus"]] == [0, 3]
    assert paths.hp_head("toy", 0, 3).is_file() and not paths.hp_head("toy", 0, 1).exists()


@pytest.mark.parametrize("schedule, flat", [("cosine", False), ("constant", True), ("none", True)])
def test_ft_schedule(schedule, flat):
    opt = loop.sgd([torch.nn.Parameter(torch.zeros(1))], 0.1, 0.0)
    sched = loop.scheduler(opt, schedule, epochs=4)
    lrs = []
    for _ in range(4):
        lrs.append(opt.param_groups[0]["lr"])
        opt.step(), sched.step()
    assert lrs[0] == 0.1
    assert (lrs == [0.1] * 4) if flat else (lrs[1] < lrs[0] and lrs[3] < lrs[2])


def test_cached_features_stay_on_the_host_when_the_gpu_is_short_of_memory(monkeypatch):
    """The check runs on a simulated CUDA runtime: too little free memory, no copy."""
    z, y = torch.zeros(4, 8), torch.zeros(4)
    gpu = Runtime(torch.device("cuda", 0))
    monkeypatch.setattr(torch.cuda, "mem_get_info", lambda device: (40, 10**9))
    assert loop.on_device_if_it_fits((z, y), gpu) == (z, y)  # 144 bytes > half of 40 free
    assert loop.on_device_if_it_fits((z, y), CPU) == (z, y)


def test_every_tau_sees_the_same_batches_and_random_draws(study, monkeypatch):
    """FT's data order and its dropout / augmentation draws depend on the seed and the
    epoch only, never on tau (the head is the one difference between taus)."""
    probe.run(study, "toy", CPU)
    real, seen = loop.train_epoch, {}

    def recording(model, loader, *a, **k):
        log = seen.setdefault(record_as, [])
        log.append(torch.get_rng_state())  # the state dropout masks are drawn from

        def batches():
            for batch in loader:
                log.append(batch[1].clone())
                yield batch

        return real(model, batches(), *a, **k)

    monkeypatch.setattr(loop, "train_epoch", recording)
    for record_as in (0, 2):
        finetune.run(study, "toy", [0], [record_as], CPU)
    assert len(seen[0]) == len(seen[2]) > 2
    assert all(torch.equal(a, b) for a, b in zip(seen[0], seen[2], strict=True))


def test_a_companion_with_the_same_ft_gives_the_same_model_at_tau_0(in_tmp):
    """toy_ls differs from toy in eta_HP only: at tau 0 (no HP) both finetune the same,
    random crops of their augmented FT included, at every replicate seed: the same bytes."""
    from pipeline.io.provenance import digest

    raw = tiny(seeds=[0, 1], taus=[0, 1], exchange={})
    for s in ("toy", "toy_ls"):
        raw["settings"][s]["ft"]["augment"] = True
    study = validate(raw)
    _prepare_and_pretrain(study)
    for s in ("toy", "toy_ls"):
        probe.run(study, s, CPU)
        finetune.run(study, s, [0, 1], [0], CPU)
    for seed in (0, 1):
        assert digest(paths.hp_head("toy", seed, 0)) == digest(paths.hp_head("toy_ls", seed, 0))
        assert digest(paths.ft_model("toy", seed, 0)) == digest(
            paths.ft_model("toy_ls", seed, 0)
        ), seed
    # eta_HP
    assert not same_state(state(paths.hp_head("toy", 0, 1)), state(paths.hp_head("toy_ls", 0, 1)))


@pytest.fixture
def two_seeds(in_tmp):
    s = validate(tiny(seeds=[0, 1], taus=[0, 2], exchange={"toy": [0, 2]}))
    _prepare_and_pretrain(s)
    probe.run(s, "toy", CPU)
    return s


def test_replicate_seeds_draw_their_own_heads_and_models(two_seeds):
    """Two replicates of one setting share the backbone and data, not the head's
    initialisation nor FT's draws: their HP heads and FT models differ at every tau."""
    study = two_seeds
    assert (
        Setting(study, "toy", 0).backbone_path
        == Setting(study, "toy", 1).backbone_path
        == paths.backbone("mlp", 0)
    )
    [r0, r1] = json.loads(paths.hp_log("toy").read_text())["runs"]
    assert (r0["seed"], r1["seed"]) == (0, 1) and [r["tau"] for r in r1["taus"]] == [0, 2]
    finetune.run(study, "toy", [0, 1], [0, 2], CPU)
    for tau in (0, 2):
        assert not same_state(
            state(paths.hp_head("toy", 0, tau)), state(paths.hp_head("toy", 1, tau))
        ), tau
        assert not same_state(
            state(paths.ft_model("toy", 0, tau)), state(paths.ft_model("toy", 1, tau))
        ), tau
    rows = evaluate.run(study, "toy", CPU)
    assert [(r["seed"], r["tau"]) for r in rows] == [(0, 0), (0, 2), (1, 0), (1, 2)]
    assert (
        rows[0]["val_score"] != rows[2]["val_score"] or rows[0]["z_dist_sq"] != rows[2]["z_dist_sq"]
    )
    assert sorted(p.name for p in paths.curves("toy").iterdir()) == [
        f"seed{s}_tau{t}.csv" for s in (0, 1) for t in (0, 2)
    ]
    table = exchange.run(study, "toy", CPU)
    assert sorted(set(table["seed"])) == [0, 1] and len(table) == 2 * 2 * 2 * 2


def test_finetune_of_all_seeds_in_one_process_gives_the_same_bytes(two_seeds):
    """DVC finetunes every seed of a setting in one job, Snakemake one seed per job."""
    from pipeline.io.provenance import digest

    finetune.run(two_seeds, "toy", [0, 1], [0, 2], CPU)
    together = {(s, t): digest(paths.ft_model("toy", s, t)) for s in (0, 1) for t in (0, 2)}
    for seed in (1, 0):
        finetune.run(two_seeds, "toy", [seed], [0, 2], CPU)
    assert {(s, t): digest(paths.ft_model("toy", s, t)) for s in (0, 1) for t in (0, 2)} == together


@pytest.mark.parametrize("replicate_pretrain", [False, True])
def test_replicates_pretrain_their_own_backbone_only_when_asked(
    in_tmp, monkeypatch, replicate_pretrain
):
    """With `replicate_pretrain`, seeds [0, 1] pretrain two backbones (runs/pretrain/mlp/seed0
    and seed1) and each replicate's HP reads its own; without it both read the study seed's."""
    from pipeline.io.provenance import digest

    study = validate(
        tiny(seeds=[0, 1], replicate_pretrain=replicate_pretrain, taus=[0, 1], exchange={})
    )
    _prepare_and_pretrain(study)
    own = [paths.backbone("mlp", s) for s in ((0, 1) if replicate_pretrain else (0, 0))]
    assert [p.is_file() for p in own] == [True, True]
    assert paths.backbone("mlp", 1).exists() == replicate_pretrain
    if replicate_pretrain:
        assert not same_state(state(own[0]), state(own[1]))
    for seed in (0, 1):
        assert Setting(study, "toy", seed).backbone_path == own[seed]
    seen, real = [], probe.features

    def spy(backbone, *a):
        seen.append({k: v.clone() for k, v in backbone.state_dict().items()})
        return real(backbone, *a)

    monkeypatch.setattr(probe, "features", spy)
    probe.run(study, "toy", CPU)
    # HP computes the frozen features once per backbone, from that backbone's weights
    assert len(seen) == (2 if replicate_pretrain else 1)
    for state_seen, path in zip(seen, own, strict=False):
        assert same_state(state_seen, state(path))
    for seed in (0, 1):  # each head records the digest of the backbone it was probed on
        head = torch.load(paths.hp_head("toy", seed, 1), weights_only=False)
        assert head["inputs"]["backbone"] == digest(own[seed]) and head["seed"] == seed


def test_an_interrupted_job_keeps_its_finished_runs(two_seeds, monkeypatch, capsys):
    """A job of several (seed, tau) cut short partway into its second run: the rerun takes
    the finished run from its resume file (kept until the whole job is done) without
    training it again, resumes the cut one, and writes the bytes of an uninterrupted job."""
    from pipeline.io.provenance import digest

    study = two_seeds
    study.settings["toy"].ft.__dict__.update(epochs=3, patience=10)
    runs = [(0, 0), (0, 2), (1, 0)]
    job = ([0, 1], [0, 2])
    finetune.run(study, "toy", *job, CPU)
    whole = {r: digest(paths.ft_model("toy", *r)) for r in runs}
    whole_states = {r: state(paths.ft_model("toy", *r)) for r in runs}
    histories = {
        r: torch.load(paths.ft_model("toy", *r), weights_only=False)["history"] for r in runs
    }
    assert not any(paths.resume_of(paths.ft_model("toy", *r)).exists() for r in runs)

    real, calls, die_at = loop.train_epoch, [], [3 + 2]

    def dies_in_the_second_epoch_of_the_second_run(*a, **k):
        calls.append(1)
        if die_at and len(calls) == die_at[0]:
            raise KeyboardInterrupt
        return real(*a, **k)

    monkeypatch.setattr(loop, "train_epoch", dies_in_the_second_epoch_of_the_second_run)
    for r in runs:
        paths.ft_model("toy", *r).unlink()
    with pytest.raises(KeyboardInterrupt):
        finetune.run(study, "toy", *job, CPU)
    assert paths.ft_model("toy", 0, 0).is_file() and not paths.ft_model("toy", 0, 2).exists()
    assert paths.resume_of(paths.ft_model("toy", 0, 0)).is_file()  # finished, and kept
    assert paths.resume_of(paths.ft_model("toy", 0, 2)).is_file()
    import shutil

    shutil.rmtree(paths.ft_dir("toy"))  # Snakemake and DVC delete a failed job's outputs
    calls.clear(), die_at.clear()
    capsys.readouterr()
    finetune.run(study, "toy", *job, CPU)
    err = capsys.readouterr().err
    assert "[ft toy seed=0 tau=0] resumed_from_epoch=3" in err
    assert "[ft toy seed=0 tau=2] resumed_from_epoch=1" in err
    assert len(calls) == 0 + 2 + 3 + 3  # nothing for the finished run, the rest of the cut one
    assert not any(
        paths.resume_of(paths.ft_model("toy", s, t)).exists() for s in (0, 1) for t in (0, 2)
    )
    for r in runs:
        assert same_state(state(paths.ft_model("toy", *r)), whole_states[r]), r
        assert (
            torch.load(paths.ft_model("toy", *r), weights_only=False)["history"] == histories[r]
        ), r
    rerun = {r: digest(paths.ft_model("toy", *r)) for r in runs}
    assert rerun == whole


class SlowBatches:
    """Three batches, 0.6 s apart: an epoch long enough for a progress bar."""

    def __len__(self):
        return 3

    def __iter__(self):
        import time

        for i in range(3):
            time.sleep(0.6)
            yield i


def test_a_progress_bar_within_long_epochs_only_on_a_terminal(monkeypatch, capsys):
    import sys

    slow = SlowBatches()
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    assert list(loop.batches(slow, "train")) == [0, 1, 2]
    bar = capsys.readouterr().err
    assert "train:" in bar and "3/3" in bar
    monkeypatch.setattr(sys.stderr, "isatty", lambda: False)
    assert loop.batches(slow, "train") is slow


@pytest.mark.parametrize("every, writes", [("0", 2), ("1e9", 1)])
def test_resume_files_are_written_at_most_every_few_seconds_and_at_the_end(
    study, monkeypatch, every, writes
):
    monkeypatch.setenv("TASKHEAD_RESUME_EVERY", every)
    written = []
    real = loop.save_torch
    monkeypatch.setattr(
        loop, "save_torch", lambda path, obj: (written.append(path), real(path, obj))
    )
    probe.run(study, "toy", CPU)
    finetune.run(study, "toy", [0], [0], CPU)  # 2 epochs
    assert len(written) == writes and written[-1].name == "tau0.pt.resume"
